package sandbox

import (
	"fmt"
	"net"
	"strconv"
)

// Listen opens a TCP listener on port inside the workload for a test that
// plays the server side itself: sending data nobody asked for, say, to
// see whether a connection's reply direction still gets through. The
// caller accepts and closes.
func (w *Workload) Listen(port int) (net.Listener, error) {
	var ln net.Listener
	err := inNS(w.NetNS, func() error {
		var err error
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: %s: listen tcp/%d: %w", w.Name, port, err)
	}
	return ln, nil
}
