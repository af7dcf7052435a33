package client

import (
	"crypto/tls"
	"fmt"

	"github.com/thaw-dev/thaw/internal/apikey"
)

// Credentials say where the server is, how to secure the connection and what
// to send as authorization. Make them with LocalCredentials,
// APIKeyCredentials or EndpointCredentials; the zero value is not usable.
type Credentials struct {
	endpoint string      // host:port of the cache and control service
	token    string      // the authorization header's value; may be empty
	tls      *tls.Config // nil for plaintext
}

// LocalCredentials reach a server on addr (host:port) in plaintext with an
// empty authorization header, as the Momento SDKs' momento-local provider
// does. Use it for thaw serve without --auth-secret-file.
func LocalCredentials(addr string) Credentials {
	return Credentials{endpoint: addr}
}

// APIKeyCredentials use an API key in Momento's v1 format, such as the keys
// `thaw token create` prints: the key's api_key is sent as the authorization
// header and its endpoint is the server's address. endpointOverride, when not
// empty, is used instead of the key's endpoint (host:port). useTLS selects
// TLS with the system's trusted roots; WithTLSConfig changes them.
func APIKeyCredentials(key, endpointOverride string, useTLS bool) (Credentials, error) {
	endpoint, apiKey, err := apikey.DecodeV1(key)
	if err != nil {
		return Credentials{}, &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("credentials: %v", err), cause: err}
	}
	if endpointOverride != "" {
		endpoint = endpointOverride
	}
	c := Credentials{endpoint: endpoint, token: apiKey}
	if useTLS {
		c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return c, nil
}

// EndpointCredentials reach the server at addr (host:port) and send token, as
// is, as the authorization header (an empty token sends an empty header). A
// nil tlsConfig means plaintext; otherwise the connection uses TLS with that
// configuration, whose RootCAs may hold a private CA. The server name is taken
// from addr unless tlsConfig sets ServerName.
func EndpointCredentials(addr, token string, tlsConfig *tls.Config) Credentials {
	return Credentials{endpoint: addr, token: token, tls: tlsConfig}
}

// WithTLSConfig returns a copy of c that connects with TLS configured by cfg,
// for example with RootCAs holding a private CA; nil returns plaintext
// credentials.
func (c Credentials) WithTLSConfig(cfg *tls.Config) Credentials {
	c.tls = cfg
	return c
}

// Endpoint returns the server address the credentials point at.
func (c Credentials) Endpoint() string { return c.endpoint }

// TLS reports whether the credentials connect with TLS.
func (c Credentials) TLS() bool { return c.tls != nil }

// String describes the credentials without revealing the token.
func (c Credentials) String() string {
	security := "plaintext"
	if c.tls != nil {
		security = "tls"
	}
	return fmt.Sprintf("%s (%s, token %s)", c.endpoint, security, map[bool]string{true: "set", false: "empty"}[c.token != ""])
}
