package upload

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"path"
	"strings"
	"unicode"
)

// FormField is the one multipart field an upload request may carry.
const FormField = "file"

// FromMultipart processes a multipart body that must consist of exactly
// one part, a field named "file". It returns the accepted image and the
// client's file name cleaned for display (CleanFilename); the name is
// never used to decide the type or to build a path.
//
// The HTTP layer builds mr with r.MultipartReader() after wrapping the body
// in http.MaxBytesReader(w, r.Body, cfg.MaxRequestBytes()).
func (in *Intake) FromMultipart(ctx context.Context, mr *multipart.Reader) (*Image, string, error) {
	part, err := mr.NextPart()
	if errors.Is(err, io.EOF) {
		return nil, "", ErrMissingFile
	}
	if err != nil {
		return nil, "", ErrBadMultipart.Wrap(err)
	}
	// Part.FormName parses Content-Disposition; a file part has a filename
	// parameter, even an empty one is tolerated (some clients send none).
	if part.FormName() != FormField {
		part.Close()
		return nil, "", ErrMissingFile.With("field", CleanFilename(part.FormName()))
	}
	name := CleanFilename(part.FileName())
	img, err := in.Process(ctx, part)
	part.Close()
	if err != nil {
		return nil, "", err
	}
	switch next, err := mr.NextPart(); {
	case errors.Is(err, io.EOF):
		return img, name, nil
	case err != nil:
		img.Close()
		return nil, "", ErrBadMultipart.Wrap(err)
	default:
		next.Close()
		img.Close()
		return nil, "", ErrMultipleParts
	}
}

// CleanFilename reduces a client-supplied file name to something safe to
// show and to put in a Content-Disposition header: the last path element
// (both / and \ separate, so "..\..\x.jpg" gives "x.jpg"), no control or
// format characters, no leading dots, at most 100 runes. It returns
// "upload" when nothing usable is left.
func CleanFilename(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	name = path.Base("/" + name)
	if name == "/" {
		return "upload"
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), r == unicode.ReplacementChar:
			return -1
		case r == '"' || r == '/' || r == ':' || r == '*' || r == '?' || r == '<' || r == '>' || r == '|':
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	if r := []rune(name); len(r) > 100 {
		// Keep the extension visible when shortening.
		ext := path.Ext(name)
		if len([]rune(ext)) > 10 {
			ext = ""
		}
		name = string(r[:100-len([]rune(ext))]) + ext
	}
	if name == "" {
		return "upload"
	}
	return name
}
