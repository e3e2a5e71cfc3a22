package files

import (
	"bytes"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readLeased reads a file under a read lease (fcntl F_SETLEASE F_RDLCK),
// which the kernel grants only while no process has the file open for
// writing, and which, while held, makes any process opening it for
// writing (or truncating it) wait until it is released. Content read under
// it is whole: no write is in progress, none can start. That covers what
// inotify cannot tell: a writer's open inherited by a child it forked,
// whose close comes when the child execs, after the writer went on.
//
// It returns ErrBeingWritten when the file is open for writing. Where
// leases are unavailable (NFS and other filesystems without them, a file
// neither ours nor readable with CAP_LEASE) it reads without one and
// leased is false: the caller then relies on events and stat.
func readLeased(name string) (data []byte, leased bool, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fd := int(f.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		if errors.Is(err, unix.EAGAIN) {
			return nil, false, ErrBeingWritten
		}
		data, err := readAll(f)
		return data, false, err
	}
	defer unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
	data, err = readAll(f)
	return data, true, err
}

// readAll reads f whole into a buffer sized from its stat (policy files
// can be tens of megabytes: growing the buffer would copy them over and
// over), as os.ReadFile does, and refuses one larger than MaxInputBytes
// before reading more of it (as ReadInput does).
func readAll(f *os.File) ([]byte, error) {
	size := int64(512)
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		size += min(fi.Size(), MaxInputBytes)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxInputBytes+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > MaxInputBytes {
		return nil, errTooLarge(f.Name())
	}
	return buf.Bytes(), nil
}
