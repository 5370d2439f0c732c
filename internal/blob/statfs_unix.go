//go:build linux || darwin || freebsd

package blob

import (
	"fmt"
	"syscall"
)

// FreeBytes returns the bytes available to unprivileged users on the
// filesystem holding dir (statfs f_bavail × f_bsize): the root reserve is
// excluded because the service does not run as root.
func FreeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	// The field types differ by OS (uint64/int64/uint32); convert both.
	return int64(st.Bavail) * int64(st.Bsize), nil
}
