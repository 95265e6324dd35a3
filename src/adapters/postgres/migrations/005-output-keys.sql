-- Lets the sweeper ask, per stored object under outputs/ and pdfs/, whether a job or a managed PDF records it.
CREATE INDEX render_jobs_output_key ON render_jobs (output_key);
CREATE INDEX pdfs_blob_key ON pdfs (blob_key);
