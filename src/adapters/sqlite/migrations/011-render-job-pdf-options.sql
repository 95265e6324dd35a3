-- A render job's print options ([ours] pdfOptions on create: Playwright page.pdf() names), canonical JSON; NULL: none
-- (the document's CSS page size, backgrounds printed).
ALTER TABLE render_jobs ADD COLUMN pdf_options TEXT;
