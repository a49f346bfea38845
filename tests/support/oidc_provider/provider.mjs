// The company's identity provider in agenwork's tests: the `oidc-provider` package, unchanged,
// with its own login and consent pages (devInteractions: any password), the test accounts given
// by the test run, and clients registered by the tests through dynamic registration.
//
// Environment:
//   OIDC_TEST_PORT           the port to listen on (127.0.0.1)
//   OIDC_TEST_ACCOUNTS       JSON: {account id (the `sub`): {email, email_verified, name}}
//   OIDC_TEST_INITIAL_TOKEN  the initial access token that POST /reg must present
//
// Prints one line `ready <issuer>` once it listens; exits when its standard input closes, so a
// test run that dies never leaves it behind.
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_TEST_PORT);
const accounts = JSON.parse(process.env.OIDC_TEST_ACCOUNTS || '{}');
const initialAccessToken = process.env.OIDC_TEST_INITIAL_TOKEN;
if (!port || !initialAccessToken) {
  console.error('OIDC_TEST_PORT and OIDC_TEST_INITIAL_TOKEN must be set');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [],
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true, initialAccessToken },
  },
  // Every authorization request must carry a PKCE challenge: a client that forgot it is refused.
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
});
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
process.stdin.resume();
process.stdin.on('end', () => server.close(() => process.exit(0)));
