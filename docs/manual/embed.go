// Package manual embeds the user manual (Markdown pages and the screenshots
// the browser e2e run takes) so the binary serves it at /manual/.
package manual

import (
	"embed"
	"io/fs"
)

//go:embed *.md images/*.png
var files embed.FS

// FS returns the manual's pages and images.
func FS() fs.FS { return files }
