import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { keepPreviousData, useQuery } from '@tanstack/preact-query';
import { ApiError } from './api';

export const PAGE_SIZE = 20;

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function when(ms: number | null | undefined): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error;
  const text = e instanceof ApiError ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
  return <p class="error" role="alert">{text}</p>;
}

export function CopyButton(props: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="secondary"
      onClick={async () => {
        await navigator.clipboard.writeText(props.text).catch(() => undefined);
        setDone(true);
        setTimeout(() => setDone(false), 2000);
      }}
    >
      {done ? 'Copied' : props.label ?? 'Copy'}
    </button>
  );
}

export function Field(props: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span class="label">{props.label}</span>
      {props.children}
      {props.hint && <span class="hint">{props.hint}</span>}
    </label>
  );
}

export function Status(props: { status: string }) {
  return <span class={`status s-${props.status}`}>{props.status.replace('_', ' ')}</span>;
}

/**
 * One cursor-paginated list (spec §1): the cursors of the pages seen so far form a stack, so Previous needs no
 * server support. The previous page stays on screen while the next loads (no layout jump).
 */
export function usePaged<T>(key: unknown[], fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>, opts: { refetchInterval?: (items: T[]) => number | false } = {}) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const query = useQuery({
    queryKey: [...key, cursor ?? ''],
    queryFn: () => fetchPage(cursor),
    placeholderData: keepPreviousData,
    refetchInterval: (q) => (opts.refetchInterval && q.state.data ? opts.refetchInterval(q.state.data.items) : false),
  });
  return {
    query,
    items: query.data?.items ?? [],
    page: cursors.length,
    next: query.data?.nextCursor ? () => setCursors([...cursors, query.data!.nextCursor!]) : null,
    prev: cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null,
    reset: () => setCursors([undefined]),
  };
}

export function Pager(props: { paged: { page: number; next: (() => void) | null; prev: (() => void) | null }; label: string }) {
  const { paged } = props;
  if (!paged.next && !paged.prev) return null;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" class="secondary" disabled={!paged.prev} onClick={() => paged.prev?.()}>Previous</button>
      <span>Page {paged.page}</span>
      <button type="button" class="secondary" disabled={!paged.next} onClick={() => paged.next?.()}>Next</button>
    </nav>
  );
}

/**
 * A table that does not jump when its data arrives: while loading it shows `skeletonRows` placeholder rows (the
 * expected row count: a full page for lists), and when every column gives a `width` its layout is fixed, so the
 * header does not move as cells fill in.
 */
export function Table<T>(props: {
  caption: string;
  columns: { title: string; cell: (row: T) => ComponentChildren; class?: string; width?: string }[];
  rows: T[];
  loading: boolean;
  empty: string;
  rowKey: (row: T) => string;
  skeletonRows?: number;
}) {
  const fixed = props.columns.every((c) => c.width);
  const skeleton = props.loading && !props.rows.length;
  return (
    <div class="table-wrap">
      <table class={fixed ? 'fixed' : undefined} aria-busy={skeleton || undefined}>
        <caption class="sr-only">{props.caption}{skeleton ? ' (loading)' : ''}</caption>
        {fixed && <colgroup>{props.columns.map((c) => <col style={{ width: c.width }} />)}</colgroup>}
        <thead>
          <tr>{props.columns.map((c) => <th scope="col" class={c.class}>{c.title}</th>)}</tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr key={props.rowKey(r)}>{props.columns.map((c) => <td class={c.class}>{c.cell(r)}</td>)}</tr>
          ))}
          {skeleton && Array.from({ length: props.skeletonRows ?? 3 }, (_, i) => (
            <tr key={`skeleton-${i}`} class="skeleton-row" aria-hidden="true">{props.columns.map((c) => <td class={c.class}><span class="skeleton" /></td>)}</tr>
          ))}
          {!props.rows.length && !props.loading && (
            <tr><td colSpan={props.columns.length} class="empty">{props.empty}</td></tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

export function PageHeader(props: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h1>{props.title}</h1>
      {props.children && <div class="actions">{props.children}</div>}
    </header>
  );
}
