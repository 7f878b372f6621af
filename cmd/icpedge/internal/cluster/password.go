package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxPasswordFile bounds what ReadPasswordFile reads: a password is one
// line, and a file of another kind given by mistake is not slurped.
const maxPasswordFile = 4096

// ReadPasswordFile returns the Redis password on the first line of the
// file name (the key cluster.password_file), without surrounding white
// space or line ending. A missing or unreadable file, an empty first line
// or a first line longer than 4 KiB is an error naming the file.
func ReadPasswordFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("cluster.password_file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.LimitReader(f, maxPasswordFile+1), maxPasswordFile+1)
	line, err := r.ReadString('\n')
	switch {
	case errors.Is(err, io.EOF) && len(line) > maxPasswordFile:
		return "", fmt.Errorf("cluster.password_file %s: first line longer than %d bytes; expected the Redis password alone on it", name, maxPasswordFile)
	case err != nil && !errors.Is(err, io.EOF):
		return "", fmt.Errorf("cluster.password_file %s: %w", name, err)
	}
	pw := strings.TrimSpace(line)
	if pw == "" {
		return "", fmt.Errorf("cluster.password_file %s: first line is empty; expected the Redis password on it", name)
	}
	return pw, nil
}
