// The app's whole journey in a real browser: Debian's Chromium driven by playwright-core,
// against `next build` + `next start` and the todo API's local server.
//
//   APP_URL=http://localhost:3000 MAIL_DIR=<the API's mail folder> \
//   SCREENSHOT_DIR=<folder for the PNGs> node e2e/journey.mjs
//
// Every step checks what the page shows, to the letter, and every answer of the API the
// pages receive: none may be a 5xx or fail to arrive, and the 4xx answers of a step are
// exactly the ones it lists (a wrong password, a revoked session). A console error or a
// script error in any page fails the step too. The first failure names its step and exits
// 1. dev-server/tests/example_app.rs starts everything and runs this script.

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

const APP_URL = required("APP_URL").replace(/\/+$/, "");
const MAIL_DIR = required("MAIL_DIR");
const SCREENSHOT_DIR = required("SCREENSHOT_DIR");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const NAME = "Ada Lovelace";
// Unique, so that the journey also runs against a long-lived local server.
const STAMP = Date.now().toString(36);
const EMAIL = `ada+${STAMP}@example.com`;
const NEW_EMAIL = `ada.king+${STAMP}@example.com`;
const PASSWORD = "correct horse battery";
const LINK_SENT = "If that email needs verification, a link has been sent";
const NEW_PASSWORD = "a brand new passphrase";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 812 };

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required (see the top of e2e/journey.mjs)`);
    process.exit(2);
  }
  return value;
}

let current = "start";
/** What the pages saw during the current step: the API's answers, and what went wrong. */
let answers = [];
let problems = [];

/**
 * Runs the step `name`; `refusals` are the 4xx answers of the API it must get, each as
 * "<status> <METHOD> <path>" with ids written {id}, and no other 4xx may come.
 */
async function step(name, body, refusals = []) {
  current = name;
  answers = [];
  problems = [];
  const started = Date.now();
  await body();
  const seen = [...new Set(answers.filter((answer) => /^4/.test(answer)))].sort();
  const expected = [...new Set(refusals)].sort();
  if (JSON.stringify(seen) !== JSON.stringify(expected)) {
    problems.push(`the API's 4xx answers were ${JSON.stringify(seen)}, not ${JSON.stringify(expected)}`);
  }
  if (problems.length > 0) throw new Error(problems.join("\n"));
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

/** `/api/<uuid>/tasks/12` as `/api/{id}/tasks/{id}`. */
const apiPath = (pathname) =>
  pathname
    .split("/")
    .map((part) => (/^[0-9a-f]{8}-[0-9a-f-]{27}$/i.test(part) || /^\d+$/.test(part) ? "{id}" : part))
    .join("/");

/** Watches every page of `context`: the API's answers, failed requests, console and script errors. */
function watch(context) {
  context.on("response", (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith("/api/")) return;
    const answer = `${response.status()} ${response.request().method()} ${apiPath(url.pathname)}`;
    answers.push(answer);
    if (response.status() >= 500) problems.push(`the API answered ${answer}`);
  });
  context.on("requestfailed", (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith("/api/")) {
      problems.push(`${request.method()} ${url.pathname} failed: ${request.failure()?.errorText}`);
    }
  });
  context.on("console", (message) => {
    if (message.type() !== "error") return;
    // Chromium logs every 4xx and 5xx it receives; the answers are judged above.
    const where = message.location()?.url ?? "";
    const loadFailed = message.text().startsWith("Failed to load resource: the server responded with a status of");
    if (loadFailed && where && new URL(where).pathname.startsWith("/api/")) return;
    problems.push(`console error on ${message.page()?.url()}: ${message.text()} (${where})`);
  });
  context.on("weberror", (error) => problems.push(`script error on ${error.page()?.url()}: ${error.error().message}`));
}

/** Waits until `read()` gives `expected` (compared as JSON); throws with what it saw last. */
async function until(what, read, expected, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  const want = JSON.stringify(expected);
  let seen;
  for (;;) {
    try {
      seen = JSON.stringify(await read());
    } catch (error) {
      seen = `<${String(error.message).split("\n")[0]}>`;
    }
    if (seen === want) return;
    if (Date.now() > deadline) throw new Error(`${what}: expected ${want}, saw ${seen}`);
    await sleep(100);
  }
}

const path = (page) => new URL(page.url()).pathname;

async function landsOn(page, pathname) {
  await until(`the page after ${current}`, () => path(page), pathname);
}

async function heading(page, text) {
  await until("the page heading", () => page.getByRole("heading", { level: 1 }).innerText(), text);
}

/** The error shown under the field labelled `label` (tied to it by aria-describedby). */
async function errorUnder(scope, label) {
  const input = scope.getByLabel(label, { exact: true });
  const ids = (await input.getAttribute("aria-describedby", { timeout: 1000 })) ?? "";
  const id = ids.split(" ").find((id) => id.endsWith("-error"));
  return id ? input.page().locator(`[id="${id}"]`).innerText({ timeout: 1000 }) : null;
}

async function expectFieldError(scope, label, message) {
  await until(`the error under "${label}"`, () => errorUnder(scope, label), message);
}

async function expectFormError(scope, message) {
  await until("the form's error", () => scope.locator(".form-error").innerText({ timeout: 1000 }), message);
}

async function expectNotice(scope, message) {
  await until("the notice", () => scope.getByRole("status").innerText({ timeout: 1000 }), message);
}

const titles = (page) => page.getByRole("list", { name: "Tasks" }).locator(".task-title").allInnerTexts();

async function expectTitles(page, expected) {
  await until("the task list", () => titles(page), expected);
}

/** Loads `pathname` and, once `ready` has resolved, checks nothing sticks out sideways. */
async function expectNoHorizontalScroll(page, pathname, ready) {
  await page.goto(`${APP_URL}${pathname}`);
  await landsOn(page, pathname);
  await (ready ? ready() : page.getByRole("heading", { level: 1 }).waitFor());
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > PHONE.width) throw new Error(`${pathname} is ${width} px wide at ${PHONE.width} px`);
}

async function screenshot(page, name) {
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Every mail to `to` with `subject` so far, oldest first, as the API wrote them (headers, text, HTML). */
function mailsTo(to, subject) {
  return readdirSync(MAIL_DIR)
    .sort()
    .map((file) => readFileSync(join(MAIL_DIR, file), "utf8"))
    .filter((mail) => mail.split("\n").includes(`To: ${to}`) && mail.split("\n").includes(`Subject: ${subject}`));
}

/** The newest mail to `to` with `subject`. */
async function mailTo(to, subject) {
  for (let tries = 0; tries < 100; tries++) {
    const mail = mailsTo(to, subject).at(-1);
    if (mail) return mail;
    await sleep(100);
  }
  throw new Error(`no "${subject}" mail to ${to} in ${MAIL_DIR}`);
}

/** Waits until exactly `count` mails to `to` with `subject` were written, and returns the last. */
async function mailNumber(count, to, subject) {
  await until(`the number of "${subject}" mails to ${to}`, () => mailsTo(to, subject).length, count);
  return mailsTo(to, subject).at(-1);
}

/** The link to `pathname` in `mail`. */
function linkIn(mail, pathname) {
  const prefix = `${APP_URL}${pathname}?token=`;
  const at = mail.indexOf(prefix);
  const token = at >= 0 ? /^[A-Za-z0-9_-]+/.exec(mail.slice(at + prefix.length))?.[0] : undefined;
  if (!token) throw new Error(`no ${pathname} link in the mail:\n${mail}`);
  return prefix + token;
}

/** The link to `pathname` in the newest mail to `to` with `subject`. */
async function linkMailedTo(to, subject, pathname) {
  return linkIn(await mailTo(to, subject), pathname);
}

async function signIn(page, email, password) {
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function main() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  current = "launch Chromium";
  // Playwright gives Chromium a fresh --user-data-dir of its own (and refuses one in `args`).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const open = async (viewport) => {
    const context = await browser.newContext({ viewport });
    watch(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  };

  try {
    const page = await open(DESKTOP);
    // Another device: a browser context of its own, with its own cookies.
    const other = await open(PHONE);

    await step("a signed-out visitor is sent to sign in", async () => {
      await page.goto(`${APP_URL}/tasks`);
      await landsOn(page, "/signin");
      await heading(page, "Sign in");
      await screenshot(page, "signin");
    }, ["401 GET /api/auth/session"]);

    await step("signup shows each error under its field", async () => {
      await page.getByRole("link", { name: "Create an account" }).click();
      await heading(page, "Create an account");
      const create = page.getByRole("button", { name: "Create account" });
      await create.click();
      await expectFieldError(page, "Name", "Name is required");
      await page.getByLabel("Name", { exact: true }).fill(NAME);
      await page.getByLabel("Email", { exact: true }).fill("ada.example.com");
      await create.click();
      await expectFieldError(page, "Email", "Please enter a valid email");
      await until("the name's error is gone", () => errorUnder(page, "Name"), null);
      await page.getByLabel("Email", { exact: true }).fill(EMAIL);
      await page.getByLabel("Password", { exact: true }).fill("short");
      await create.click();
      await expectFieldError(page, "Password", "Password must be at least 8 characters");
    }, ["400 POST /api/auth/signup"]);

    await step("signup", async () => {
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByRole("button", { name: "Create account" }).click();
      await landsOn(page, "/tasks");
      await heading(page, "Tasks");
      const empty = () => page.locator(".empty").innerText();
      await until("the empty list", empty, "No tasks yet. Add your first one above.");
    });

    await step("the page holds no token", async () => {
      const stored = await page.evaluate(() => ({
        cookies: document.cookie,
        local: localStorage.length,
        session: sessionStorage.length,
      }));
      await until("what page scripts can read", () => stored, { cookies: "", local: 0, session: 0 });
    });

    await step("the same email cannot sign up twice", async () => {
      await other.goto(`${APP_URL}/signup`);
      await other.getByLabel("Name", { exact: true }).fill("Someone Else");
      await other.getByLabel("Email", { exact: true }).fill(EMAIL);
      await other.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await other.getByRole("button", { name: "Create account" }).click();
      await expectFieldError(other, "Email", "Email already registered");
    }, ["400 POST /api/auth/signup"]);

    const emailCard = page.getByRole("region", { name: "Email" });
    const emailStatus = () => emailCard.locator(".email-status").innerText({ timeout: 1000 });

    // The signup mail, then one per resend: each resend is seen by the mail it wrote.
    const VERIFY = "Verify your email";
    await step("the account shows the email not verified", async () => {
      await page.getByRole("link", { name: "Account" }).click();
      await landsOn(page, "/account");
      await until("the email's status", emailStatus, `${EMAIL} Not verified`);
      await mailNumber(1, EMAIL, VERIFY);
      await emailCard.getByRole("button", { name: "Send verification email" }).click();
      await expectNotice(emailCard.locator(".stack"), LINK_SENT);
      await mailNumber(2, EMAIL, VERIFY);
      await screenshot(page, "account");
    });

    await step("signin waits for the verification (EMAIL_VERIFICATION=required)", async () => {
      await other.goto(`${APP_URL}/signin`);
      await signIn(other, EMAIL, PASSWORD);
      await expectFormError(other, "Email not verified");
      const hint = () => other.locator(".stack .hint").innerText({ timeout: 1000 });
      await until("the hint", hint, `Follow the link we mailed to ${EMAIL}, then sign in.`);
      // The refused signin has answered, and whatever mail it sent is written by then.
      const before = mailsTo(EMAIL, VERIFY).length;
      await other.getByRole("button", { name: "Send verification email" }).click();
      await expectNotice(other, LINK_SENT);
      await mailNumber(before + 1, EMAIL, VERIFY);
    }, ["403 POST /api/auth/signin"]);

    await step("verify through the mailed link, in another tab", async () => {
      // Each new link voids the ones before: only the newest, the last resend's, works.
      const links = mailsTo(EMAIL, VERIFY).map((mail) => linkIn(mail, "/verify-email"));
      const link = links.at(-1);
      if (links.indexOf(link) !== links.length - 1) throw new Error("the resend mailed an earlier link again");
      const tab = await page.context().newPage();
      await tab.goto(link);
      await heading(tab, "Verify your email");
      await tab.getByRole("button", { name: "Verify email" }).click();
      await expectNotice(tab, "Email verified");
      const address = () => tab.locator("main p").nth(1).innerText({ timeout: 1000 });
      await until("the verified address", address, `${EMAIL} is the address of your account.`);
      // The account page, open all along, shows it without a reload.
      await until("the email's status", emailStatus, `${EMAIL} Verified`);
      const sendButtons = () => emailCard.getByRole("button", { name: "Send verification email" }).count();
      await until("the send button", sendButtons, 0);
      await tab.goto(link);
      await tab.getByRole("button", { name: "Verify email" }).click();
      await expectFormError(tab, "Invalid or expired verification token");
      await tab.close();
      await page.getByRole("link", { name: "Tasks" }).click();
      await landsOn(page, "/tasks");
      await heading(page, "Tasks");
    }, ["400 POST /api/auth/verify-email"]);

    const addForm = page.getByRole("form", { name: "Add a task" });
    const add = async (title, description) => {
      await addForm.getByLabel("Title", { exact: true }).fill(title);
      await addForm.getByLabel("Description (optional)", { exact: true }).fill(description ?? "");
      await addForm.getByRole("button", { name: "Add task" }).click();
    };

    await step("add three tasks", async () => {
      await add("   ");
      await expectFieldError(addForm, "Title", "Title is required");
      await add("Buy milk");
      await expectTitles(page, ["Buy milk"]);
      await add("Write report", "Quarterly numbers for the board");
      await expectTitles(page, ["Write report", "Buy milk"]);
      await add("Call the plumber");
      await expectTitles(page, ["Call the plumber", "Write report", "Buy milk"]);
      await until("the title field after adding", () => addForm.getByLabel("Title", { exact: true }).inputValue(), "");
    }, ["400 POST /api/{id}/tasks"]);

    await step("edit a task", async () => {
      await page.getByRole("button", { name: "Edit Write report" }).click();
      const edit = page.getByRole("form", { name: "Edit Write report" });
      await edit.getByLabel("Title", { exact: true }).fill("Write the quarterly report");
      await edit.getByRole("button", { name: "Save" }).click();
      await expectTitles(page, ["Call the plumber", "Write the quarterly report", "Buy milk"]);
      await until(
        "the description kept",
        () => page.locator(".task-description").allInnerTexts(),
        ["Quarterly numbers for the board"],
      );
    });

    await step("toggle a task", async () => {
      await page.getByRole("checkbox", { name: "Buy milk" }).check();
      await until("Buy milk's checkbox", () => page.getByRole("checkbox", { name: "Buy milk" }).isChecked(), true);
      await until("the done tasks", () => page.locator(".task.done .task-title").allInnerTexts(), ["Buy milk"]);
    });

    await step("filter by status", async () => {
      const show = page.getByLabel("Show", { exact: true });
      await show.selectOption("completed");
      await expectTitles(page, ["Buy milk"]);
      await show.selectOption("pending");
      await expectTitles(page, ["Call the plumber", "Write the quarterly report"]);
      await show.selectOption("all");
      await expectTitles(page, ["Call the plumber", "Write the quarterly report", "Buy milk"]);
    });

    await step("search", async () => {
      const search = page.getByRole("searchbox", { name: "Search" });
      await search.fill("QUARTERLY");
      await expectTitles(page, ["Write the quarterly report"]);
      await search.fill("board");
      await expectTitles(page, ["Write the quarterly report"]);
      await search.fill("nothing like this");
      await until("the empty result", () => page.locator(".empty").innerText(), "No tasks match.");
      await search.fill("");
      await expectTitles(page, ["Call the plumber", "Write the quarterly report", "Buy milk"]);
    });

    await step("sort", async () => {
      const sort = page.getByLabel("Sort", { exact: true });
      await sort.selectOption({ label: "Title A–Z" });
      await expectTitles(page, ["Buy milk", "Call the plumber", "Write the quarterly report"]);
      await sort.selectOption({ label: "Newest first" });
      await expectTitles(page, ["Call the plumber", "Write the quarterly report", "Buy milk"]);
      await screenshot(page, "tasks");
    });

    await step("delete a task", async () => {
      await page.getByRole("button", { name: "Delete Call the plumber" }).click();
      await expectTitles(page, ["Write the quarterly report", "Buy milk"]);
    });

    await step("paginate", async () => {
      // Eleven more through the API from the page itself (its cookie, its Origin).
      await page.evaluate(async () => {
        const { user } = await (await fetch("/api/auth/session")).json();
        for (let n = 1; n <= 11; n++) {
          const answer = await fetch(`/api/${user.id}/tasks`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ title: `Chore ${String(n).padStart(2, "0")}` }),
          });
          await answer.json(); // read to the end, so that the reload below aborts nothing
        }
      });
      await page.reload();
      const first = ["11", "10", "09", "08", "07", "06", "05", "04", "03", "02"].map((n) => `Chore ${n}`);
      await expectTitles(page, first);
      const pages = page.getByRole("navigation", { name: "Pages" });
      await until("the page number", () => pages.locator("span").innerText(), "Page 1");
      await pages.getByRole("button", { name: "Next" }).click();
      await expectTitles(page, ["Chore 01", "Write the quarterly report", "Buy milk"]);
      await until("the page number", () => pages.locator("span").innerText(), "Page 2");
      await until("Next on the last page", () => pages.getByRole("button", { name: "Next" }).isDisabled(), true);
      await pages.getByRole("button", { name: "Previous" }).click();
      await expectTitles(page, first);
    });

    await step("375 px wide: no horizontal scrolling", async () => {
      const phone = await page.context().newPage(); // signed in, as `page` is
      await phone.setViewportSize(PHONE);
      const firstTask = () => titles(phone).then((all) => all[0]);
      await expectNoHorizontalScroll(phone, "/tasks", () => until("the first task", firstTask, "Chore 11"));
      await screenshot(phone, "tasks-375");
      await expectNoHorizontalScroll(phone, "/account", () => phone.getByRole("list", { name: "Sessions" }).waitFor());
      await phone.close();
      for (const pathname of ["/signin", "/signup", "/forgot-password", "/reset-password", "/verify-email"]) {
        await expectNoHorizontalScroll(other, pathname);
      }
    });

    await step("sign out", async () => {
      await page.getByRole("button", { name: "Sign out" }).click();
      await landsOn(page, "/signin");
      await page.goto(`${APP_URL}/tasks`);
      await landsOn(page, "/signin");
    }, ["401 GET /api/auth/session"]);

    await step("forgot password", async () => {
      await page.getByRole("link", { name: "Forgot your password?" }).click();
      await heading(page, "Forgot your password?");
      await page.getByLabel("Email", { exact: true }).fill(EMAIL);
      await page.getByRole("button", { name: "Send reset link" }).click();
      await expectNotice(page, "If that email is registered, a reset link has been sent");
    });

    await step("reset through the mailed link", async () => {
      await page.goto(await linkMailedTo(EMAIL, "Reset your password", "/reset-password"));
      await heading(page, "Choose a new password");
      await page.getByLabel("New password", { exact: true }).fill("short");
      await page.getByRole("button", { name: "Set new password" }).click();
      await expectFieldError(page, "New password", "Password must be at least 8 characters");
      await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
      await page.getByRole("button", { name: "Set new password" }).click();
      await expectNotice(page, "Password has been reset");
      await page.getByRole("link", { name: "Sign in" }).click();
      await landsOn(page, "/signin");
    }, ["400 POST /api/auth/reset-password"]);

    await step("sign in with the new password", async () => {
      await signIn(page, EMAIL, PASSWORD);
      await expectFormError(page, "Invalid email or password");
      await signIn(page, EMAIL, NEW_PASSWORD);
      await landsOn(page, "/tasks");
      await until("the first task", () => titles(page).then((all) => all[0]), "Chore 11");
    }, ["400 POST /api/auth/signin"]);

    await step("a second device signs in", async () => {
      await other.goto(`${APP_URL}/signin`);
      await signIn(other, EMAIL, NEW_PASSWORD);
      await landsOn(other, "/tasks");
      await heading(other, "Tasks");
    });

    const sessions = page.getByRole("region", { name: "Sessions" });
    const devices = () => sessions.locator("li strong").allInnerTexts();

    await step("the account page lists both sessions", async () => {
      await page.getByRole("link", { name: "Account" }).click();
      await landsOn(page, "/account");
      await heading(page, "Account");
      // Newest first: the other device signed in last.
      await until("the sessions", devices, ["Another device", "This device"]);
    });

    await step("revoke the other session", async () => {
      await sessions.getByRole("button", { name: /^Revoke the session signed in / }).click();
      await until("the sessions", devices, ["This device"]);
      await other.reload();
      await landsOn(other, "/signin");
    }, ["401 GET /api/auth/session"]);

    await step("rename", async () => {
      const profile = page.getByRole("region", { name: "Profile" });
      await profile.getByLabel("Name", { exact: true }).fill("Ada King");
      await profile.getByRole("button", { name: "Save name" }).click();
      await expectNotice(profile, "Name saved");
      const who = () => profile.locator("p").first().innerText();
      await until("who is signed in", who, `Signed in as Ada King (${EMAIL})`);
    });

    /** The second device signs in again, and the account page lists it. */
    const secondDeviceSignsIn = async (email, password) => {
      await other.goto(`${APP_URL}/signin`);
      await signIn(other, email, password);
      await landsOn(other, "/tasks");
      await heading(other, "Tasks");
      await page.reload();
      await until("the sessions", devices, ["Another device", "This device"]);
    };

    /** The second device, reloaded, is sent to sign in: its session has ended. */
    const secondDeviceIsSignedOut = async () => {
      await other.reload();
      await landsOn(other, "/signin");
      await heading(other, "Sign in");
    };

    await step("the second device signs in again", () => secondDeviceSignsIn(EMAIL, NEW_PASSWORD));

    await step("change the password ends other sessions", async () => {
      const form = page.getByRole("region", { name: "Password" });
      await form.getByLabel("Current password", { exact: true }).fill(PASSWORD);
      await form.getByLabel("New password", { exact: true }).fill(PASSWORD);
      await form.getByRole("button", { name: "Change password" }).click();
      await expectFieldError(form, "Current password", "Current password is incorrect");
      await form.getByLabel("Current password", { exact: true }).fill(NEW_PASSWORD);
      await form.getByRole("button", { name: "Change password" }).click();
      await expectNotice(form, "Password changed");
      await until("the sessions", devices, ["This device"]);
      await secondDeviceIsSignedOut();
    }, ["400 POST /api/auth/change-password", "401 GET /api/auth/session"]);

    const changeEmail = emailCard.getByRole("form", { name: "Change email" });

    await step("ask to change the email", async () => {
      await changeEmail.getByLabel("New email", { exact: true }).fill("ada.king.example.com");
      await changeEmail.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await changeEmail.getByRole("button", { name: "Change email" }).click();
      await expectFieldError(changeEmail, "New email", "Please enter a valid email");
      await changeEmail.getByLabel("New email", { exact: true }).fill(NEW_EMAIL);
      await changeEmail.getByLabel("Password", { exact: true }).fill(NEW_PASSWORD);
      await changeEmail.getByRole("button", { name: "Change email" }).click();
      await expectFieldError(changeEmail, "Password", "Password is incorrect");
      await until("the email's error is gone", () => errorUnder(changeEmail, "New email"), null);
      await changeEmail.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await changeEmail.getByRole("button", { name: "Change email" }).click();
      await expectNotice(changeEmail, "Verification sent to the new address");
      await until("the password's error is gone", () => errorUnder(changeEmail, "Password"), null);
      // Nothing changes before the link is followed.
      await page.reload();
      await until("the email's status", emailStatus, `${EMAIL} Verified`);
    }, ["400 POST /api/auth/change-email"]);

    await step("the link sent to the new address switches the email", async () => {
      const tab = await page.context().newPage();
      await tab.goto(await linkMailedTo(NEW_EMAIL, "Confirm your new email", "/verify-email"));
      await tab.getByRole("button", { name: "Verify email" }).click();
      await expectNotice(tab, "Email verified");
      const address = () => tab.locator("main p").nth(1).innerText({ timeout: 1000 });
      await until("the new address", address, `${NEW_EMAIL} is the address of your account.`);
      await tab.close();
      const who = () => page.getByRole("region", { name: "Profile" }).locator("p").first().innerText();
      await until("who is signed in", who, `Signed in as Ada King (${NEW_EMAIL})`);
      await until("the email's status", emailStatus, `${NEW_EMAIL} Verified`);
      await page.reload();
      await until("the email's status after a reload", emailStatus, `${NEW_EMAIL} Verified`);
    });

    await step("the old address is told, without the new one", async () => {
      const mail = await mailTo(EMAIL, "Your email was changed");
      const text = mail.slice(mail.indexOf("\n\n") + 2, mail.indexOf("\n--- HTML ---"));
      await until(
        "the mail's text",
        () => text,
        "Hello,\n\nThe email address of your account was changed, and this address no longer signs in.\n\n" +
          "If it was not you, reset your password from the new address's mailbox, or contact us.\n",
      );
      if (mail.includes(NEW_EMAIL)) throw new Error("the notice names the new address");
    });

    await step("the second device signs in with the new email", () => secondDeviceSignsIn(NEW_EMAIL, PASSWORD));

    await step("sign out everywhere", async () => {
      await sessions.getByRole("button", { name: "Sign out everywhere" }).click();
      await landsOn(page, "/signin");
      await expectNotice(page, "Signed out on every device");
      await secondDeviceIsSignedOut();
      await signIn(page, EMAIL, PASSWORD);
      await expectFormError(page, "Invalid email or password");
      await signIn(page, NEW_EMAIL, PASSWORD);
      await landsOn(page, "/tasks");
      await page.getByRole("link", { name: "Account" }).click();
      await until("the sessions", devices, ["This device"]);
    }, ["400 POST /api/auth/signin", "401 GET /api/auth/session"]);

    await step("delete the account", async () => {
      const danger = page.getByRole("region", { name: "Delete account" });
      await danger.getByLabel("Password", { exact: true }).fill(NEW_PASSWORD);
      await danger.getByRole("button", { name: "Delete account" }).click();
      await expectFieldError(danger, "Password", "Password is incorrect");
      await danger.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await danger.getByRole("button", { name: "Delete account" }).click();
      await landsOn(page, "/signin");
      await expectNotice(page, "Account deleted");
      await signIn(page, NEW_EMAIL, PASSWORD);
      await expectFormError(page, "Invalid email or password");
      await page.goto(`${APP_URL}/tasks`);
      await landsOn(page, "/signin");
    }, ["400 DELETE /api/auth/user", "400 POST /api/auth/signin", "401 GET /api/auth/session"]);
  } finally {
    await browser.close();
  }
}

main().then(
  () => console.log(`journey passed; screenshots in ${SCREENSHOT_DIR}`),
  (error) => {
    console.error(`FAILED at step "${current}": ${error.stack ?? error}`);
    process.exitCode = 1;
  },
);
