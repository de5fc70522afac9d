"use client";

import { useEffect, useState, type FormEvent } from "react";
import { Field, FormError, TextArea } from "@/components/field";
import { useCurrentUser } from "@/components/signed-in";
import { api, type Task } from "@/lib/client";
import { DESCRIPTION_ERRORS, TITLE_ERRORS, place, text, type Errors } from "@/lib/forms";

const PAGE_SIZE = 10;

type Status = "all" | "pending" | "completed";

// The list's `sort` and `order` parameters, as one choice.
const ORDERINGS = {
  newest: { label: "Newest first", sort: "created", order: "desc" },
  oldest: { label: "Oldest first", sort: "created", order: "asc" },
  updated: { label: "Recently updated", sort: "updated", order: "desc" },
  "title-asc": { label: "Title A–Z", sort: "title", order: "asc" },
  "title-desc": { label: "Title Z–A", sort: "title", order: "desc" },
} as const;
type Ordering = keyof typeof ORDERINGS;

type TaskFields = "title" | "description";
const TASK_FIELDS = { title: TITLE_ERRORS, description: DESCRIPTION_ERRORS };

export function TaskList() {
  const { user } = useCurrentUser();
  const [status, setStatus] = useState<Status>("all");
  const [ordering, setOrdering] = useState<Ordering>("newest");
  const [search, setSearch] = useState("");
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [hasMore, setHasMore] = useState(false);
  const [failure, setFailure] = useState<string>();
  const [actionFailure, setActionFailure] = useState<string>();
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);
  // Shows a change at once, before the list is read again.
  const show = (id: number, change: Partial<Task>) =>
    setTasks((list) => list && list.map((task) => (task.id === id ? { ...task, ...change } : task)));

  function applySearch(value: string) {
    setQ(value.trim());
    setOffset(0);
  }

  // The search applies once typing pauses (or at once on Enter).
  useEffect(() => {
    if (search.trim() === q) return;
    const timer = setTimeout(() => applySearch(search), 300);
    return () => clearTimeout(timer);
  }, [search, q]);

  useEffect(() => {
    let live = true;
    const { sort, order } = ORDERINGS[ordering];
    // One more than a page: the list has no total, so the extra task tells whether a next page exists.
    const query = { status, sort, order, q: q || undefined, limit: PAGE_SIZE + 1, offset };
    api.GET("/api/{user_id}/tasks", { params: { path: { user_id: user.id }, query } }).then(({ data, error }) => {
      if (!live) return;
      if (error) {
        setFailure(error.error);
      } else if (data.length === 0 && offset > 0) {
        // The last task of this page went away: show the page before.
        setOffset(Math.max(0, offset - PAGE_SIZE));
      } else {
        setFailure(undefined);
        setTasks(data.slice(0, PAGE_SIZE));
        setHasMore(data.length > PAGE_SIZE);
      }
    });
    return () => {
      live = false;
    };
  }, [user.id, status, ordering, q, offset, version]);

  const filtered = status !== "all" || q !== "";
  const page = Math.floor(offset / PAGE_SIZE) + 1;

  return (
    <>
      <h1>Tasks</h1>
      <AddTask userId={user.id} onAdded={reload} />

      <form
        role="search"
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          applySearch(search);
        }}
      >
        <Field
          label="Search"
          name="q"
          type="search"
         
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
        <div className="field">
          <label htmlFor="filter-status">Show</label>
          <select
            id="filter-status"
            value={status}
            onChange={(event) => {
              setStatus(event.target.value as Status);
              setOffset(0);
            }}
          >
            <option value="all">All tasks</option>
            <option value="pending">Pending</option>
            <option value="completed">Completed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="filter-sort">Sort</label>
          <select
            id="filter-sort"
            value={ordering}
            onChange={(event) => {
              setOrdering(event.target.value as Ordering);
              setOffset(0);
            }}
          >
            {Object.entries(ORDERINGS).map(([value, { label }]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </form>

      <FormError message={failure ?? actionFailure} />
      {tasks === null ? (
        <p aria-busy="true">Loading…</p>
      ) : tasks.length === 0 ? (
        <p className="empty">{filtered ? "No tasks match." : "No tasks yet. Add your first one above."}</p>
      ) : (
        <ul className="tasks" aria-label="Tasks">
          {tasks.map((task) => (
            <TaskItem key={task.id} task={task} show={show} onChanged={reload} onFailure={setActionFailure} />
          ))}
        </ul>
      )}

      {(offset > 0 || hasMore) && (
        <nav className="pages" aria-label="Pages">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
            Previous
          </button>
          <span>Page {page}</span>
          <button type="button" disabled={!hasMore} onClick={() => setOffset(offset + PAGE_SIZE)}>
            Next
          </button>
        </nav>
      )}
    </>
  );
}

function AddTask({ userId, onAdded }: { userId: string; onAdded: () => void }) {
  const [errors, setErrors] = useState<Errors<TaskFields>>({});
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    const description = text(form, "description");
    setPending(true);
    const { error } = await api.POST("/api/{user_id}/tasks", {
      params: { path: { user_id: userId } },
      body: { title: text(form, "title"), description: description === "" ? null : description },
    });
    setPending(false);
    if (error) {
      setErrors(place(error.error, TASK_FIELDS));
      return;
    }
    setErrors({});
    formElement.reset();
    (formElement.elements.namedItem("title") as HTMLInputElement | null)?.focus();
    onAdded();
  }

  return (
    <form className="card add-task" onSubmit={submit} noValidate aria-label="Add a task">
      <Field label="Title" name="title" error={errors.title} />
      <TextArea label="Description (optional)" name="description" error={errors.description} />
      <FormError message={errors.form} />
      <button type="submit" disabled={pending}>
        {pending ? "Adding…" : "Add task"}
      </button>
    </form>
  );
}

type ItemProps = {
  task: Task;
  show: (id: number, change: Partial<Task>) => void;
  onChanged: () => void;
  onFailure: (message?: string) => void;
};

function TaskItem({ task, show, onChanged, onFailure }: ItemProps) {
  const [editing, setEditing] = useState(false);
  const path = { user_id: task.user_id, task_id: task.id };

  async function toggle() {
    show(task.id, { completed: !task.completed });
    const { error } = await api.PATCH("/api/{user_id}/tasks/{task_id}/complete", { params: { path } });
    onFailure(error?.error);
    onChanged();
  }

  async function remove() {
    const { error } = await api.DELETE("/api/{user_id}/tasks/{task_id}", { params: { path } });
    onFailure(error?.error);
    onChanged();
  }

  if (editing) {
    return (
      <li className="task">
        <EditTask
          task={task}
          onDone={() => {
            setEditing(false);
            onChanged();
          }}
          onCancel={() => setEditing(false)}
        />
      </li>
    );
  }
  return (
    <li className={task.completed ? "task done" : "task"}>
      <label className="task-main">
        <input type="checkbox" checked={task.completed} onChange={toggle} />
        <span className="task-title">{task.title}</span>
      </label>
      {task.description && <p className="task-description">{task.description}</p>}
      <div className="task-actions">
        <button type="button" className="secondary" aria-label={`Edit ${task.title}`} onClick={() => setEditing(true)}>
          Edit
        </button>
        <button type="button" className="secondary danger" aria-label={`Delete ${task.title}`} onClick={remove}>
          Delete
        </button>
      </div>
    </li>
  );
}

function EditTask({ task, onDone, onCancel }: { task: Task; onDone: () => void; onCancel: () => void }) {
  const [errors, setErrors] = useState<Errors<TaskFields>>({});
  const [pending, setPending] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const description = text(form, "description");
    setPending(true);
    // PUT replaces the title and description (and keeps `completed`).
    const { error } = await api.PUT("/api/{user_id}/tasks/{task_id}", {
      params: { path: { user_id: task.user_id, task_id: task.id } },
      body: { title: text(form, "title"), description: description === "" ? null : description },
    });
    setPending(false);
    if (error) {
      setErrors(place(error.error, TASK_FIELDS));
      return;
    }
    onDone();
  }

  return (
    <form onSubmit={submit} noValidate aria-label={`Edit ${task.title}`}>
      <Field label="Title" name="title" defaultValue={task.title} error={errors.title} autoFocus />
      <TextArea
        label="Description (optional)"
        name="description"
       
        defaultValue={task.description ?? ""}
        error={errors.description}
      />
      <FormError message={errors.form} />
      <div className="task-actions">
        <button type="submit" disabled={pending}>
          {pending ? "Saving…" : "Save"}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
