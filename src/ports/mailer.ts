/** Outgoing e-mail (invitations). Configured by the operator (PRESS_SMTP_URL); absent otherwise. */
export interface Mailer {
  /** resolves once the server accepted the message; rejects with the transport's error */
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}
