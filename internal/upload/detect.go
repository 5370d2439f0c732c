package upload

import (
	"bytes"
	"strings"
)

// detect names what a refused file most likely is, for the 415 response's
// "detected" param, so the UI can say "HEIC is not supported, export as
// JPEG" instead of a bare refusal. It is only a hint: acceptance is decided
// by imaging.Sniff and a full decode, never by this.
func detect(head []byte) string {
	has := func(prefix string) bool { return bytes.HasPrefix(head, []byte(prefix)) }
	switch {
	case len(head) == 0:
		return "empty"
	case has("GIF87a"), has("GIF89a"):
		return "image/gif"
	case has("BM"):
		return "image/bmp"
	case has("II*\x00"), has("MM\x00*"):
		return "image/tiff"
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		switch brand := string(head[8:12]); brand {
		case "heic", "heix", "hevc", "heim", "heis", "mif1", "msf1":
			return "image/heic"
		case "avif", "avis":
			return "image/avif"
		default:
			return "video/mp4"
		}
	case has("\x00\x00\x01\x00"):
		return "image/x-icon"
	case has("%PDF-"):
		return "application/pdf"
	case has("PK\x03\x04"), has("PK\x05\x06"):
		return "application/zip"
	case has("\x7fELF"):
		return "application/x-executable"
	case has("MZ"):
		return "application/x-msdownload"
	case has("RIFF"):
		return "application/riff"
	case has("\xFF\xD8"):
		return "image/jpeg (invalid)"
	}
	text := strings.ToLower(strings.TrimLeft(string(head[:min(len(head), 512)]), "\ufeff \t\r\n"))
	switch {
	case strings.HasPrefix(text, "<svg"), strings.Contains(text, "<svg"):
		return "image/svg+xml"
	case strings.HasPrefix(text, "<!doctype html"), strings.HasPrefix(text, "<html"), strings.Contains(text, "<script"):
		return "text/html"
	case strings.HasPrefix(text, "<?xml"):
		return "application/xml"
	}
	return "unknown"
}
