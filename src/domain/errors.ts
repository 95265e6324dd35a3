/**
 * The one error type the domain throws. `status` is the real HTTP status (the HTTP layer copies it),
 * `code` is the spec's snake_case error code, `message` is safe to show to the caller.
 * `cause` is logged, never sent.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, opts: { cause?: unknown; headers?: Record<string, string> } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.headers = opts.headers ?? {};
  }
}

const e = (status: number, code: string) => (message: string, opts?: { cause?: unknown; headers?: Record<string, string> }) =>
  new AppError(status, code, message, opts);

/** Every error code the API can answer with, as factories. The catalogue in docs/api.md lists the same set. */
export const Errors = {
  // §1 conventions
  invalidInput: e(400, 'invalid_input'),
  invalidPathParam: e(400, 'invalid_path_param'),
  invalidQueryParam: e(400, 'invalid_query_param'),
  invalidHeader: e(400, 'invalid_header'),
  routeNotFound: e(404, 'route_not_found'),
  methodNotAllowed: e(405, 'method_not_allowed'),
  idempotencyKeyMismatch: e(422, 'idempotency_key_mismatch'),
  idempotencyKeyInUse: e(409, 'idempotency_key_in_use'),
  rateLimited: e(429, 'rate_limited'),
  requestTimeout: e(408, 'request_timeout'),
  internal: e(500, 'internal_error'),
  notImplemented: e(501, 'not_implemented'),
  serviceUnavailable: e(503, 'service_unavailable'),
  // §2 auth
  missingAuthorization: e(401, 'missing_authorization'),
  invalidApiKey: e(401, 'invalid_api_key'),
  apiKeyDisabled: e(403, 'api_key_disabled'),
  accountDisabled: e(403, 'account_disabled'),
  insufficientPermission: e(403, 'insufficient_permission'),
  apiKeyNotFound: e(404, 'api_key_not_found'),
  // §10 users, sessions, workspaces, members, invitations
  invalidCredentials: e(401, 'invalid_credentials'),
  invalidSession: e(401, 'invalid_session'),
  loginThrottled: e(429, 'login_throttled'),
  csrfTokenInvalid: e(403, 'csrf_token_invalid'),
  sessionRequired: e(403, 'session_required'),
  setupTokenInvalid: e(403, 'setup_token_invalid'),
  weakPassword: e(400, 'weak_password'),
  emailTaken: e(409, 'email_taken'),
  workspaceRequired: e(400, 'workspace_required'),
  workspaceNotFound: e(404, 'workspace_not_found'),
  workspaceNameTaken: e(409, 'workspace_name_taken'),
  personalWorkspaceNotDeletable: e(409, 'personal_workspace_not_deletable'),
  memberNotFound: e(404, 'member_not_found'),
  alreadyMember: e(409, 'already_member'),
  ownerRequired: e(409, 'owner_required'),
  memberLimitExceeded: e(400, 'member_limit_exceeded'),
  invitationNotFound: e(404, 'invitation_not_found'),
  invitationExpired: e(410, 'invitation_expired'),
  invitationEmailMismatch: e(403, 'invitation_email_mismatch'),
  // §3 deploys
  deployNotFound: e(404, 'deploy_not_found'),
  deploySlugConflict: e(409, 'deploy_slug_conflict'),
  deployVersionNotFound: e(404, 'deploy_version_not_found'),
  aliasNotFound: e(404, 'alias_not_found'),
  // §4 uploads
  uploadSessionNotFound: e(404, 'upload_session_not_found'),
  uploadSessionTooLarge: e(400, 'upload_session_too_large'),
  uploadBlobTooLarge: e(400, 'upload_blob_too_large'),
  /** the uploaded body itself is over the limit (the manifest's declared size is the 400 above) */
  uploadBlobBodyTooLarge: e(413, 'upload_blob_too_large'),
  uploadTokenMissing: e(403, 'upload_token_missing'),
  uploadTokenInvalid: e(403, 'upload_token_invalid'),
  uploadBlobHashMismatch: e(400, 'upload_blob_hash_mismatch'),
  uploadBlobSizeMismatch: e(400, 'upload_blob_size_mismatch'),
  uploadBlobNotInSession: e(400, 'upload_blob_not_in_session'),
  uploadSessionIncomplete: e(409, 'upload_session_incomplete'),
  uploadSessionNotOpen: e(409, 'upload_session_not_open'),
  uploadSessionCommitInProgress: e(409, 'upload_session_commit_in_progress'),
  uploadSessionExpired: e(410, 'upload_session_expired'),
  deployCommitPolicyLimitExceeded: e(400, 'deploy_commit_policy_limit_exceeded'),
  uploadSessionPolicyLimitExceeded: e(400, 'upload_session_policy_limit_exceeded'),
  storageLimitExceeded: e(400, 'storage_limit_exceeded'),
  // §8 quotas (429 with Retry-After)
  deployCommitQuotaExceeded: e(429, 'deploy_commit_quota_exceeded'),
  renderJobQuotaExceeded: e(429, 'render_job_quota_exceeded'),
  renderTimeQuotaExceeded: e(429, 'render_time_quota_exceeded'),
  // §5 render jobs
  renderJobNotFound: e(404, 'render_job_not_found'),
  renderJobAlreadyTerminal: e(409, 'render_job_already_terminal'),
  renderJobNotTerminal: e(409, 'render_job_not_terminal'),
  renderJobOutputNotFound: e(404, 'render_job_output_not_found'),
  renderJobOutputExpired: e(410, 'render_job_output_expired'),
  // §7 managed PDFs and signed links
  pdfNotFound: e(404, 'pdf_not_found'),
  webhookDeliveryNotFound: e(404, 'webhook_delivery_not_found'),
  webhookDisabled: e(409, 'webhook_disabled'),
  signedUrlInvalid: e(403, 'signed_url_invalid'),
  signedUrlExpired: e(410, 'signed_url_expired'),
} as const;
