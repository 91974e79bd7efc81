package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Running kubectl on a pseudo-terminal, as a user at a shell does.

// kubectlOnTerminal runs kubectl in the test's namespace with a
// pseudo-terminal of rows×cols as its stdin, stdout and stderr (its
// controlling terminal), and returns everything it wrote there. It skips
// t if the machine has no pseudo-terminals.
func (n *nodeTest) kubectlOnTerminal(rows, cols uint16, args ...string) (string, error) {
	n.t.Helper()
	master, slave, err := openPTY(rows, cols)
	if err != nil {
		n.t.Skipf("no pseudo-terminal on this machine: %v", err)
	}
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	cmd := n.s.kubectlCmd(ctx, runOpts{}, n.inNamespace(args)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own (hence also its own process group, which
	// kubectlCmd's Cancel kills) with the terminal as controlling tty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		slave.Close()
		n.t.Fatalf("starting kubectl on a terminal: %v", err)
	}
	slave.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		// Reads end with EIO once every holder of the slave side is gone.
		_, _ = io.Copy(&out, master)
		close(read)
	}()
	err = cmd.Wait()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		master.Close()
		<-read
	}
	n.t.Logf("kubectl %s (on a terminal, %v, err=%v)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), err)
	return out.String(), err
}

// openPTY opens a pseudo-terminal pair with the given window size.
func openPTY(rows, cols uint16) (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlocking the pty: %w", err))
	}
	num, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("pty number: %w", err))
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(num)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fail(err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		slave.Close()
		return fail(fmt.Errorf("setting the window size: %w", err))
	}
	return master, slave, nil
}
