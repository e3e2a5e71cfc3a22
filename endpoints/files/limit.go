package files

import (
	"fmt"
	"io"
	"os"
)

// DefaultMaxInputMiB is the default size limit of one input file (or of
// standard input), in MiB: far above any real policy directory's file
// (100,000 endpoints of YAML are ~30 MiB), far below what would exhaust a
// node's memory once decoded.
const DefaultMaxInputMiB = 256

// MaxInputBytes is the size limit ReadInput enforces. `flowgate
// --max-input-mib` (FLOWGATE_MAX_INPUT_MIB) sets it once at start-up,
// before anything is read.
var MaxInputBytes int64 = DefaultMaxInputMiB << 20

// ReadInput reads one input file ("-" for stdin) whole, refusing with a
// clear error, before reading any more of it, an input larger than
// MaxInputBytes (`check -f /dev/zero` must not exhaust memory).
func ReadInput(name string, stdin io.Reader) ([]byte, error) {
	if name != Stdin {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		defer f.Close()
		return readAll(f) // sized from its stat; its errors name the file
	}
	data, err := io.ReadAll(io.LimitReader(stdin, MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > MaxInputBytes {
		return nil, errTooLarge(name)
	}
	return data, nil
}

// errTooLarge is the error for an input over MaxInputBytes.
func errTooLarge(name string) error {
	return fmt.Errorf("read %s: larger than the input size limit of %d MiB (raise it with --max-input-mib or FLOWGATE_MAX_INPUT_MIB)", name, MaxInputBytes>>20)
}
