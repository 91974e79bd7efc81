// Package pause is the program of the pod sandbox ("pause") container. It
// holds the sandbox's namespaces open by staying alive, and, as PID 1 of a
// pod that shares one PID namespace, it reaps orphaned processes so they do
// not linger as zombies. It owns nothing else: the images package puts it in
// the pause image, and skiff's main runs it when invoked as "pause".
package pause

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs the pause program until SIGINT or SIGTERM and returns its exit
// code (0 on a signal, 1 if it cannot start). args (the command line after
// the program name) are ignored except -v, which prints a version line, so
// that any sandbox command line works.
func Main(args []string) int {
	for _, a := range args {
		if a == "-v" || a == "--version" {
			fmt.Println("pause (skiff)")
			return 0
		}
	}
	if os.Getpid() != 1 {
		// Outside a PID namespace of its own, only descendants of this
		// process are reparented here, and only because it asks for it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, "pause: cannot become a child subreaper:", err)
		}
	}
	// Subscribe before reaping once, so a child that exits in between is
	// still reaped on the following SIGCHLD.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	reapChildren()
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reapChildren()
			continue
		}
		return 0
	}
	return 1
}

// reapChildren collects every exited child without blocking. Signals
// coalesce, so one SIGCHLD may stand for several exits.
func reapChildren() {
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}
