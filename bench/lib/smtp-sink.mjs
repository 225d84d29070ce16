// An SMTP server that accepts every message and keeps none: production settings require
// SMTP_URL, and registration and new-device mails must go somewhere. Counts what it received.
import { SMTPServer } from 'smtp-server';

export async function startSmtpSink() {
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('end', () => {
        received++;
        callback();
      });
      stream.resume();
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `smtp://127.0.0.1:${server.server.address().port}`,
    get received() {
      return received;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
