// A real OpenID Connect provider for thaisign's tests (the ThaiD role), built on the
// OpenID-certified `oidc-provider` package. Usage: node op.mjs CONFIG.json
//
// CONFIG.json (written by tests/support/oidc_provider.py):
//   { "issuer": "http://127.0.0.1:PORT", "port": PORT,
//     "jwks": { "keys": [ private JWKs, first one signs ] },
//     "resources": { "<resource indicator>": { "scope": "csc", "alg": "ES256", "ttl": 600 } },
//     "clients": [ oidc-provider client metadata ... ],
//     "accounts": { "<sub>": { "name": "...", "roles": ["..."] } } }
//
// Access tokens for a resource are RFC 9068 JWTs (aud = the resource indicator). Logins use the
// provider's own development interaction pages; only the configured accounts exist.
// Prints "ready <issuer>" on stdout once it listens.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts || {};

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: account.name };
      },
    };
  },
  claims: { openid: ['sub'], profile: ['name'] },
  scopes: ['openid', 'profile', 'offline_access'],
  pkce: { required: () => true },
  ttl: {
    AccessToken: config.access_token_ttl || 600,
    ClientCredentials: config.access_token_ttl || 600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    AuthorizationCode: 60,
    IdToken: 600,
  },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    revocation: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        const rs = config.resources[indicator];
        if (!rs) throw new Provider.errors.InvalidTarget();
        return {
          scope: rs.scope,
          audience: indicator,
          accessTokenTTL: rs.ttl || config.access_token_ttl || 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: rs.alg || 'ES256' } },
        };
      },
    },
  },
  async extraTokenClaims(ctx, token) {
    const account = token.accountId ? accounts[token.accountId] : undefined;
    if (account && account.roles) return { roles: account.roles };
    return undefined;
  },
});
provider.proxy = false;

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
