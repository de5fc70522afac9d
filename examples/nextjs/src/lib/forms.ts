// The contract's validation messages, to the letter, and the field each belongs to: an
// error the API answers is shown under its field, anything else on the form.

export const NAME_ERRORS = [
  "Name is required",
  "Name must be 100 characters or less",
  "Name cannot contain control characters",
];
export const EMAIL_ERRORS = ["Email is required", "Please enter a valid email", "Email already registered"];
const PASSWORD_RULES = ["Password must be at least 8 characters", "Password must be 128 characters or less"];
export const PASSWORD_ERRORS = ["Password is required", ...PASSWORD_RULES];
export const NEW_PASSWORD_ERRORS = ["New password is required", ...PASSWORD_RULES];
export const CURRENT_PASSWORD_ERRORS = ["Current password is required", "Current password is incorrect"];
export const CONFIRM_PASSWORD_ERRORS = ["Password is required", "Password is incorrect"];
export const TITLE_ERRORS = ["Title is required", "Title must be 200 characters or less"];
export const DESCRIPTION_ERRORS = ["Description must be 1000 characters or less"];

export type Errors<F extends string> = Partial<Record<F | "form", string>>;

/** `{[field]: message}` for the field whose messages include it, else `{form: message}`. */
export function place<F extends string>(message: string, fields: Record<F, readonly string[]>): Errors<F> {
  for (const field of Object.keys(fields) as F[]) {
    if (fields[field].includes(message)) {
      return { [field]: message } as Errors<F>;
    }
  }
  return { form: message } as Errors<F>;
}

/** A form field's text, as typed. */
export function text(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}
