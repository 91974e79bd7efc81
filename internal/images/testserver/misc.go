package testserver

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// runPause waits for SIGTERM or SIGINT, so a container stays Running for
// kubectl exec.
func runPause(ctx context.Context, e *env, args []string) error {
	fmt.Fprintln(e.stdout, "Paused")
	<-ctx.Done()
	return nil
}

// runSleep sleeps for a number of seconds ("2.5") or a Go duration ("1m");
// a signal ends it early with code 0.
func runSleep(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("usage: sleep <seconds|duration>")
	}
	d, err := parseSeconds(args[0])
	if err != nil {
		return usagef("%v", err)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

func parseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is neither seconds nor a duration", s)
	}
	return d, nil
}

// runExit exits with the code given as the argument or --code.
func runExit(_ context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("exit", flag.ContinueOnError)
	code := fs.Int("code", -1, "exit code (0-255)")
	pos, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && *code == -1:
		c, err := strconv.Atoi(pos[0])
		if err != nil {
			return usagef("exit code %q is not an integer", pos[0])
		}
		*code = c
	case len(pos) == 0 && *code == -1:
		*code = 0
	case len(pos) != 0:
		return usagef("usage: exit <code> | exit --code=<code>")
	}
	if *code < 0 || *code > 255 {
		return usagef("exit code %d is not in [0, 255]", *code)
	}
	return exitCode(*code)
}

// runEntrypointTester prints its arguments, to check how a container's
// command and args reached the process.
func runEntrypointTester(_ context.Context, e *env, args []string) error {
	fmt.Fprintln(e.stdout, strings.Join(args, " "))
	return nil
}
