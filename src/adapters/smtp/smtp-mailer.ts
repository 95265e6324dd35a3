import nodemailer, { type Transporter } from 'nodemailer';
import type { Mailer } from '../../ports/mailer.js';

/** The Mailer port on SMTP (nodemailer), from PRESS_SMTP_URL, e.g. smtps://user:pass@smtp.example.com:465. */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(url: string, private readonly from: string) {
    // bounded, so an unreachable mail server delays an invitation's response by seconds, not minutes
    this.transport = nodemailer.createTransport(url, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never);
  }

  async send(message: { to: string; subject: string; text: string }): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: message.to, subject: message.subject, text: message.text });
  }
}
