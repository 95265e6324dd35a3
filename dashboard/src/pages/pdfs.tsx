import { useMutation, useQueryClient } from '@tanstack/preact-query';
import { call, type Ok } from '../api';
import { Link } from '../router';
import { atLeast, type Workspace } from '../session';
import { bytes, ErrorNote, PageHeader, Pager, PAGE_SIZE, Table, usePaged, when } from '../ui';

type Pdf = Ok<'listPdfs'>['items'][number];

export function Pdfs(props: { workspace: Workspace }) {
  const ws = props.workspace;
  const qc = useQueryClient();
  const paged = usePaged<Pdf>([ws.id, 'pdfs'], (cursor) => call('listPdfs', 'GET', '/v1/pdfs', { query: { cursor, limit: PAGE_SIZE } }));
  const open = useMutation({
    mutationFn: (v: { id: string; kind: 'download' | 'preview' }) => v.kind === 'download'
      ? call('createPdfDownload', 'POST', '/v1/pdfs/{pdfId}/download', { path: { pdfId: v.id }, body: {} })
      : call('createPdfPreview', 'POST', '/v1/pdfs/{pdfId}/preview', { path: { pdfId: v.id }, body: {} }),
    onSuccess: (r, v) => { if (v.kind === 'download') location.assign(r.access.url); else window.open(r.access.url, '_blank', 'noopener'); },
  });
  const del = useMutation({
    mutationFn: (id: string) => call('deletePdf', 'DELETE', '/v1/pdfs/{pdfId}', { path: { pdfId: id } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: [ws.id, 'pdfs'] }),
  });
  const editor = atLeast(ws.role, 'editor');
  return (
    <section>
      <PageHeader title="Managed PDFs" />
      <p class="muted">Renders with output mode “managed” are kept here until deleted.</p>
      <ErrorNote error={paged.query.error ?? open.error ?? del.error} />
      <Table<Pdf>
        caption="Managed PDFs"
        rows={paged.items}
        loading={paged.query.isPending}
        empty="No managed PDFs."
        rowKey={(p) => p.id}
        columns={[
          { title: 'File', cell: (p) => p.fileName },
          { title: 'Pages', cell: (p) => p.pageCount, class: 'num' },
          { title: 'Size', cell: (p) => bytes(p.bytes), class: 'num' },
          { title: 'Job', cell: (p) => (p.renderJobId ? <Link href={`/w/${ws.id}/jobs/${p.renderJobId}`}><code>{p.renderJobId}</code></Link> : '—') },
          { title: 'Created', cell: (p) => when(p.createdAt) },
          {
            title: 'Actions',
            cell: (p) => (
              <div class="row">
                <button type="button" class="secondary" onClick={() => open.mutate({ id: p.id, kind: 'preview' })} aria-label={`Open ${p.fileName}`}>Open</button>
                <button type="button" class="secondary" onClick={() => open.mutate({ id: p.id, kind: 'download' })} aria-label={`Download ${p.fileName}`}>Download</button>
                {editor && <button type="button" class="secondary" onClick={() => del.mutate(p.id)} aria-label={`Delete ${p.fileName}`}>Delete</button>}
              </div>
            ),
          },
        ]}
      />
      <Pager paged={paged} label="Managed PDFs" />
    </section>
  );
}
