//go:build !(linux || darwin || freebsd)

package blob

import "errors"

// FreeBytes is not implemented on this platform; a configured Guard fails
// closed with this error rather than silently passing.
func FreeBytes(dir string) (int64, error) {
	return 0, errors.New("free disk space is not measurable on this platform")
}
