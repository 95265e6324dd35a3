import { useEffect, useRef, useState } from 'preact/hooks';
import * as pdfjs from 'pdfjs-dist';
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';
import { call } from '../api';
import { ErrorNote } from '../ui';

pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;

/**
 * The job's PDF drawn page by page with pdf.js, from a short-lived signed preview link (spec §5). Each page gets a
 * placeholder of the first page's aspect ratio before it is drawn, so the list does not jump.
 */
export function PdfPreview(props: { jobId: string; pageCount: number }) {
  const holder = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>(null);
  const [drawn, setDrawn] = useState(0);
  useEffect(() => {
    let doc: pdfjs.PDFDocumentProxy | null = null;
    let stop = false;
    (async () => {
      const { access } = await call('previewRenderJobOutput', 'POST', '/v1/render-jobs/{jobId}/output/preview', { path: { jobId: props.jobId }, body: {} });
      doc = await pdfjs.getDocument({ url: access.url }).promise;
      const canvases = holder.current!.querySelectorAll('canvas');
      for (let i = 1; i <= doc.numPages && !stop; i++) {
        const page = await doc.getPage(i);
        const canvas = canvases[i - 1];
        if (!canvas) break;
        const css = page.getViewport({ scale: 1 });
        const scale = (canvas.clientWidth || 600) / css.width * (window.devicePixelRatio || 1);
        const viewport = page.getViewport({ scale });
        canvas.width = viewport.width;
        canvas.height = viewport.height;
        canvas.style.aspectRatio = `${css.width} / ${css.height}`;
        await page.render({ canvas, viewport }).promise;
        setDrawn(i);
      }
    })().catch(setError);
    return () => {
      stop = true;
      void doc?.destroy();
    };
  }, [props.jobId]);
  return (
    <section class="card" aria-labelledby="preview-h">
      <h2 id="preview-h">Preview</h2>
      <ErrorNote error={error} />
      <p class="muted" role="status">{drawn < props.pageCount ? `Drawing page ${drawn + 1} of ${props.pageCount}…` : `${props.pageCount} page${props.pageCount === 1 ? '' : 's'}`}</p>
      <div class="pages" ref={holder}>
        {Array.from({ length: props.pageCount }, (_, i) => (
          <canvas key={i} class="page" role="img" aria-label={`Page ${i + 1}`} data-drawn={i < drawn ? 'true' : 'false'} />
        ))}
      </div>
    </section>
  );
}
