package testadmin

import (
	"io"
	"net/http"
	"path"
)

// Handler serves the admin HTTP routes for b: /block cuts the service port
// and /unblock restores it, each answering 200 with a one-line text body.
// GET (what the SDK test helpers send) and POST are accepted; other methods
// get 405 and other paths 404. Paths are cleaned first, so "//block"
// works without a redirect.
func Handler(b *BlockableListener) http.Handler {
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
		action()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, reply)
	})
}
