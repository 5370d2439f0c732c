package httpapi

import (
	"bytes"
	"html"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
)

// serveManual serves the user manual (Deps.Manual) at /manual/: its
// Markdown pages rendered as HTML, its screenshots as files. The SPA links
// to it; it needs no sign-in (it describes the product, nothing private).
func (s *Server) serveManual(w http.ResponseWriter, r *http.Request, p string) bool {
	if s.manual == nil {
		return false
	}
	name := strings.TrimPrefix(strings.TrimPrefix(p, "/manual"), "/")
	if name == "" {
		name = "README.md"
	}
	if !strings.Contains(path.Base(name), ".") {
		name += ".md"
	}
	if strings.HasSuffix(name, ".md") {
		src, err := fs.ReadFile(s.manual, name)
		if err != nil {
			return false
		}
		var b bytes.Buffer
		title := "ludeng 使用手册"
		if m := regexp.MustCompile(`(?m)^# (.+)$`).FindSubmatch(src); m != nil {
			title = string(m[1])
		}
		b.WriteString(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`)
		b.WriteString("<title>" + html.EscapeString(title) + "</title><style>" + manualCSS + "</style></head><body><main>")
		b.WriteString(`<nav><a href="/">← ludeng</a> · <a href="/manual/">目录 Contents</a></nav>`)
		renderMarkdown(&b, string(src))
		b.WriteString("</main></body></html>")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b.Bytes())
		return true
	}
	if st, err := fs.Stat(s.manual, name); err != nil || st.IsDir() {
		return false
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	s.serveStatic(w, r, s.manual, name)
	return true
}

const manualCSS = `body{margin:0;font:16px/1.7 system-ui,"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif;color:#1c2733;background:#f5f7fa}
main{max-width:960px;margin:0 auto;padding:1rem 1.25rem 4rem;background:#fff}nav{font-size:.9rem;margin-bottom:1rem}
img{max-width:100%;height:auto;border:1px solid #dde3ea;border-radius:6px}code{background:#eef1f5;padding:0 .25em;border-radius:3px}
pre{background:#eef1f5;padding:.75rem;overflow:auto}table{border-collapse:collapse;display:block;overflow-x:auto}
td,th{border:1px solid #dde3ea;padding:.3rem .5rem;vertical-align:top}blockquote{margin:0;padding:.25rem 1rem;border-left:4px solid #0b4f8a;background:#f0f5fb}
a{color:#0b4f8a}h1,h2,h3{line-height:1.3}`

var (
	mdImage  = regexp.MustCompile(`!\[([^\]]*)\]\(([^)\s]+)\)`)
	mdLink   = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	mdBold   = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	mdCode   = regexp.MustCompile("`([^`]+)`")
	mdOL     = regexp.MustCompile(`^\d+\. `)
	mdHeadID = regexp.MustCompile(`[^\p{L}\p{N}]+`)
)

// inline renders the inline syntax the manual uses: code, images, links, bold.
func inline(s string) string {
	var codes []string
	s = mdCode.ReplaceAllStringFunc(s, func(m string) string {
		codes = append(codes, "<code>"+html.EscapeString(m[1:len(m)-1])+"</code>")
		return "\x00" + string(rune('a'+len(codes)-1)) + "\x00"
	})
	s = html.EscapeString(s)
	s = mdImage.ReplaceAllString(s, `<img src="$2" alt="$1" loading="lazy">`)
	s = mdLink.ReplaceAllStringFunc(s, func(m string) string {
		sm := mdLink.FindStringSubmatch(m)
		href := sm[2]
		if strings.HasSuffix(href, ".md") && !strings.Contains(href, "://") {
			href = strings.TrimSuffix(href, ".md")
		}
		return `<a href="` + href + `">` + sm[1] + `</a>`
	})
	s = mdBold.ReplaceAllString(s, "<strong>$1</strong>")
	for i, c := range codes {
		s = strings.Replace(s, "\x00"+string(rune('a'+i))+"\x00", c, 1)
	}
	return s
}

// renderMarkdown writes the small Markdown subset of docs/manual as HTML:
// headings, paragraphs, lists, tables, quotes, fenced code, and the inline
// forms above. The pages are ours, not user input.
func renderMarkdown(b *bytes.Buffer, src string) {
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var para []string
	list := ""
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
	}
	closeList := func() {
		if list != "" {
			b.WriteString("</" + list + ">\n")
			list = ""
		}
	}
	for i := 0; i < len(lines); i++ {
		ln := lines[i]
		t := strings.TrimSpace(ln)
		switch {
		case strings.HasPrefix(t, "```"):
			flush()
			closeList()
			b.WriteString("<pre><code>")
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				b.WriteString(html.EscapeString(lines[i]) + "\n")
			}
			b.WriteString("</code></pre>\n")
		case t == "":
			flush()
			closeList()
		case strings.HasPrefix(t, "#"):
			flush()
			closeList()
			n := len(t) - len(strings.TrimLeft(t, "#"))
			text := strings.TrimSpace(t[n:])
			id := strings.Trim(mdHeadID.ReplaceAllString(strings.ToLower(text), "-"), "-")
			h := "h" + string(rune('0'+min(n, 6)))
			b.WriteString("<" + h + ` id="` + html.EscapeString(id) + `">` + inline(text) + "</" + h + ">\n")
		case strings.HasPrefix(t, "|"):
			flush()
			closeList()
			b.WriteString("<table>\n")
			row := 0
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				cells := strings.Split(strings.Trim(strings.TrimSpace(lines[i]), "|"), "|")
				if strings.Trim(strings.Join(cells, ""), " -:") == "" {
					continue
				}
				tag := "td"
				if row == 0 {
					tag = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					b.WriteString("<" + tag + ">" + inline(strings.TrimSpace(c)) + "</" + tag + ">")
				}
				b.WriteString("</tr>\n")
				row++
			}
			i--
			b.WriteString("</table>\n")
		case strings.HasPrefix(t, "> "):
			flush()
			closeList()
			b.WriteString("<blockquote>" + inline(strings.TrimPrefix(t, "> ")) + "</blockquote>\n")
		case strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") || mdOL.MatchString(t):
			flush()
			kind := "ul"
			item := t[2:]
			if mdOL.MatchString(t) {
				kind, item = "ol", mdOL.ReplaceAllString(t, "")
			}
			if list != kind {
				closeList()
				b.WriteString("<" + kind + ">\n")
				list = kind
			}
			b.WriteString("<li>" + inline(item) + "</li>\n")
		default:
			if list != "" && strings.HasPrefix(ln, "  ") {
				// A continuation line of the last list item.
				b.Truncate(b.Len() - len("</li>\n"))
				b.WriteString(" " + inline(t) + "</li>\n")
				continue
			}
			closeList()
			para = append(para, t)
		}
	}
	flush()
	closeList()
}
