"use client";

import { useId, type InputHTMLAttributes, type TextareaHTMLAttributes } from "react";

type Props = { label: string; name: string; error?: string; hint?: string };

/** A labelled input with its error (the API's message) underneath, tied to it for screen readers. */
export function Field({ label, error, hint, ...input }: Props & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} {...described(id, error, hint)} {...input} />
      <Below id={id} error={error} hint={hint} />
    </div>
  );
}

export function TextArea({ label, error, hint, ...textarea }: Props & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} rows={3} {...described(id, error, hint)} {...textarea} />
      <Below id={id} error={error} hint={hint} />
    </div>
  );
}

function described(id: string, error?: string, hint?: string) {
  const ids = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ");
  return { "aria-invalid": error ? true : undefined, "aria-describedby": ids || undefined };
}

function Below({ id, error, hint }: { id: string; error?: string; hint?: string }) {
  return (
    <>
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}

/** An error about the whole form (wrong credentials, throttling, the server down). */
export function FormError({ message }: { message?: string }) {
  return message ? (
    <p className="form-error" role="alert">
      {message}
    </p>
  ) : null;
}

/** A success message, announced politely. */
export function Notice({ message }: { message?: string }) {
  return message ? (
    <p className="notice" role="status">
      {message}
    </p>
  ) : null;
}
