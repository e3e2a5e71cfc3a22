package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named network namespaces live, shared with iproute2's
// `ip netns` so that `ip netns exec` and debugging by hand see ours.
const netnsDir = "/run/netns"

// ensureNetnsDir makes /run/netns a shared mount point, as `ip netns add`
// does. Without it, a namespace bind mount copied into another mount
// namespace (every `ip netns exec` child, e.g. ovs-vswitchd) would keep the
// namespace alive after we unmount it here.
func ensureNetnsDir() error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	// Not a mount point yet: bind it onto itself, then make it shared.
	if err := unix.Mount(netnsDir, netnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mount %s onto itself: %w", netnsDir, err)
	}
	if err := unix.Mount("", netnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", netnsDir, err)
	}
	return nil
}

// nsPath is the bind-mount path of the named network namespace.
func nsPath(name string) string { return filepath.Join(netnsDir, name) }

// onThreadIn runs fn on a dedicated OS thread that is switched into the
// network namespace opened by enter (or a brand-new one if enter is nil),
// and switches the thread back afterwards. If switching back fails, the
// thread stays locked so the Go runtime throws it away instead of letting
// other goroutines run in the wrong namespace.
func onThreadIn(enter func() (netns.NsHandle, error), fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := func() error {
			if enter == nil {
				if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
					return fmt.Errorf("unshare netns: %w", err)
				}
				return nil
			}
			target, err := enter()
			if err != nil {
				return err
			}
			defer target.Close()
			if err := netns.Set(target); err != nil {
				return fmt.Errorf("setns: %w", err)
			}
			return nil
		}(); err != nil {
			// Unshare/setns either worked or left the thread as it was; be
			// conservative and restore before unlocking anyway.
			if rerr := netns.Set(orig); rerr != nil {
				errc <- errors.Join(err, fmt.Errorf("restore netns: %w", rerr))
				return // thread stays locked and is discarded
			}
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
			return // thread stays locked and is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// inNS runs fn with the calling thread inside the named network namespace.
// Sockets created by fn stay in that namespace for their whole life.
func inNS(name string, fn func() error) error {
	return onThreadIn(func() (netns.NsHandle, error) {
		h, err := netns.GetFromPath(nsPath(name))
		if err != nil {
			return h, fmt.Errorf("open netns %s: %w", name, err)
		}
		return h, nil
	}, fn)
}

// createNS creates a named network namespace, runs setup inside it (for
// sysctls that must be set before interfaces appear) and brings lo up.
func createNS(name string, setup func() error) error {
	p := nsPath(name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file %s: %w", p, err)
	}
	f.Close()
	err = onThreadIn(nil, func() error {
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, p, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount netns to %s: %w", p, err)
		}
		if err := setLinkUp("lo"); err != nil {
			return err
		}
		if setup != nil {
			return setup()
		}
		return nil
	})
	if err != nil {
		_ = unix.Unmount(p, unix.MNT_DETACH)
		_ = os.Remove(p)
		return fmt.Errorf("create netns %s: %w", name, err)
	}
	return nil
}

// deleteNS removes a named network namespace; a missing one is not an error
// so that cleanup can be repeated.
func deleteNS(name string) error {
	p := nsPath(name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", name, err)
	}
	return nil
}

// listNS lists named namespaces whose name starts with prefix.
func listNS(prefix string) []string {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// writeSysctl writes a sysctl of the current thread's network namespace
// (/proc/sys/net resolves per thread, so this must run inside inNS).
func writeSysctl(key, value string) error {
	p := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// setLinkUp sets IFF_UP on ifname in the current thread's namespace with
// the classic ioctl, cheap enough for lo before netlink handles exist.
func setLinkUp(ifname string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return fmt.Errorf("ifreq %s: %w", ifname, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags of %s: %w", ifname, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", ifname, err)
	}
	return nil
}
