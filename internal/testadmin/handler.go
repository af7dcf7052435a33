package testadmin

import (
	"errors"
	"io"
	"net/http"
	"path"
	"time"

	"github.com/thaw-dev/thaw/internal/auth"
)

// Handler serves the admin HTTP routes for b: /block cuts the service port
// and /unblock restores it, each answering 200 with a one-line text body.
// GET (what the SDK test helpers send) and POST are accepted; other methods
// get 405 and other paths 404. Paths are cleaned first, so "//block"
// works without a redirect.
//
// When keys is not nil (the server runs with auth), every route needs a
// superuser key valid for all caches, since blocking the port affects every
// caller: in the Authorization header, bare or after "Bearer ", as the v1
// key `thaw token create` prints or the token inside it. A missing,
// invalid, expired or revoked key gets 401 and a weaker key 403, and nothing
// is blocked.
func Handler(b *BlockableListener, keys auth.KeyVerifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var action func()
		var reply string
		switch path.Clean("/" + r.URL.Path) {
		case "/block":
			action, reply = b.Block, "blocked\n"
		case "/unblock":
			action, reply = b.Unblock, "unblocked\n"
		default:
			http.NotFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if keys != nil {
			if code, err := authorizeAdmin(keys, r); err != nil {
				if code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="thaw test admin"`)
				}
				http.Error(w, err.Error(), code)
				return
			}
		}
		action()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, reply)
	})
}

// authorizeAdmin checks r's key for the admin routes and returns the HTTP
// status to refuse with.
func authorizeAdmin(keys auth.KeyVerifier, r *http.Request) (int, error) {
	token := auth.TokenFromHeader(r.Header.Get("Authorization"))
	if token == "" {
		return http.StatusUnauthorized, errors.New("testadmin: the server runs with auth: send a superuser key in the Authorization header")
	}
	claims, err := keys.Verify(token, time.Now())
	if err != nil {
		return http.StatusUnauthorized, err
	}
	if err := claims.Authorize(auth.ActionControl, ""); err != nil {
		return http.StatusForbidden, err
	}
	return http.StatusOK, nil
}
