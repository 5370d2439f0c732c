package httpapi

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/ludeng/ludeng/internal/fault"
)

// spaRoutes are the client-side routes that get index.html; any other
// unknown path is a real 404, so typos and scanners do not get a 200 page.
var spaRoutes = []string{"/", "/login", "/new", "/batches", "/history", "/pool", "/admin", "/account", "/settings"}

func isSPARoute(p string) bool {
	for _, r := range spaRoutes {
		if p == r || (r != "/" && strings.HasPrefix(p, r+"/")) {
			return true
		}
	}
	return false
}

// spaHandler serves the embedded web/dist. Hashed assets under /assets/ are
// immutable and cached for a year; index.html is revalidated every time so a
// deploy takes effect on the next navigation.
func (s *Server) spaHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			markUnmatched(r)
			s.writeProblem(w, r, fault.New(fault.NotFound, "route_not_found", "Not found."))
			return
		}
		if s.web == nil {
			markUnmatched(r)
			http.NotFound(w, r)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if (p == "/manual" || strings.HasPrefix(p, "/manual/")) && s.serveManual(w, r, p) {
			return
		}
		if p != "/" && !isSPARoute(p) {
			name := strings.TrimPrefix(p, "/")
			if st, err := fs.Stat(s.web, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(p, "/assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					w.Header().Set("Cache-Control", "public, max-age=3600")
				}
				s.serveStatic(w, r, s.web, name)
				return
			}
			markUnmatched(r)
			http.NotFound(w, r)
			return
		}
		if _, err := fs.Stat(s.web, "index.html"); err != nil {
			markUnmatched(r)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		r.Header.Del("If-Modified-Since") // the embed has no times; index.html is always sent
		s.serveStatic(w, r, s.web, "index.html")
	})
}
