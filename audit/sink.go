package audit

import (
	"fmt"
	"io"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Destinations of the audit log.
const (
	DestinationStdout = "stdout"
	DestinationFile   = "file"
	DestinationBoth   = "both"
)

// FileConfig is the rotated audit log file.
type FileConfig struct {
	// Path is the file; its directory is created if missing.
	Path string
	// MaxSizeMB rotates the file when it reaches this size.
	MaxSizeMB int
	// MaxBackups is how many rotated files are kept.
	MaxBackups int
}

// OpenSink opens the audit log's destination: stdout, a size-rotated
// file, or both. The returned closer closes the file (not stdout).
func OpenSink(dest string, f FileConfig, stdout io.Writer) (io.Writer, io.Closer, error) {
	file := func() (*lumberjack.Logger, error) {
		if f.Path == "" {
			return nil, fmt.Errorf("audit log file: path required for destination %q", dest)
		}
		if f.MaxSizeMB <= 0 || f.MaxBackups < 0 {
			return nil, fmt.Errorf("audit log file %s: maxSizeMB must be positive and maxBackups not negative", f.Path)
		}
		return &lumberjack.Logger{Filename: f.Path, MaxSize: f.MaxSizeMB, MaxBackups: f.MaxBackups}, nil
	}
	switch dest {
	case DestinationStdout:
		return stdout, io.NopCloser(nil), nil
	case DestinationFile:
		l, err := file()
		if err != nil {
			return nil, nil, err
		}
		return l, l, nil
	case DestinationBoth:
		l, err := file()
		if err != nil {
			return nil, nil, err
		}
		return io.MultiWriter(l, stdout), l, nil
	}
	return nil, nil, fmt.Errorf("audit log destination %q: want %s, %s or %s", dest, DestinationStdout, DestinationFile, DestinationBoth)
}

// ValidDestination reports whether dest names a destination.
func ValidDestination(dest string) bool {
	return dest == DestinationStdout || dest == DestinationFile || dest == DestinationBoth
}
