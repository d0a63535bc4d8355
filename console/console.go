// Package console is Eddy's web console: static HTML, CSS and JavaScript
// modules embedded in the binary (no frontend build step), served at / by
// the HTTP gateway and fed by its JSON API and Server-Sent Events.
//
// Pages (hash routes of one page app, static/app.js): overview with live
// throughput charts, topics, message browser, consumer groups with lag
// charts, stream processors, alert rules.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Handler serves the console's files.
func Handler() http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	fileServer := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Small files, and a new binary may bring new ones: revalidate.
		w.Header().Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}
