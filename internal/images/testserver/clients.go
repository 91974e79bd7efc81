package testserver

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// runConnect opens a TCP connection to host:port. On failure it prints a
// fixed prefix tests can match (TIMEOUT, DNS, REFUSED, OTHER, UNKNOWN), as
// agnhost's connect does, and exits 1.
func runConnect(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "connect timeout")
	protocol := fs.String("protocol", "tcp", "protocol (only tcp)")
	pos, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	fail := func(kind string, err error) error {
		fmt.Fprintf(e.stderr, "%s: %v\n", kind, err)
		return exitCode(1)
	}
	if len(pos) != 1 {
		return fail("UNKNOWN", errors.New("usage: connect [--timeout=<duration>] <host>:<port>"))
	}
	if *protocol != "tcp" {
		return fail("UNKNOWN", fmt.Errorf("protocol %q is not supported (only tcp)", *protocol))
	}
	if _, _, err := net.SplitHostPort(pos[0]); err != nil {
		return fail("UNKNOWN", err)
	}
	d := net.Dialer{Timeout: *timeout}
	c, err := d.DialContext(ctx, "tcp", pos[0])
	if err != nil {
		return fail(classifyDialError(err), err)
	}
	c.Close()
	return nil
}

func classifyDialError(err error) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "DNS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "REFUSED"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "TIMEOUT"
	default:
		return "OTHER"
	}
}

// runDNSLookup resolves a name with the system resolver and prints one
// address per line; failure prints "DNS: ..." and exits 1.
func runDNSLookup(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("dnslookup", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "lookup timeout")
	pos, err := parseFlags(fs, e, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: dnslookup [--timeout=<duration>] <name>")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "DNS: %v\n", err)
		return exitCode(1)
	}
	for _, a := range addrs {
		fmt.Fprintln(e.stdout, a)
	}
	return nil
}

func runDNSServerList(_ context.Context, e *env, args []string) error {
	return printResolvConf(e, args, "nameserver")
}

func runDNSSuffix(_ context.Context, e *env, args []string) error {
	return printResolvConf(e, args, "search")
}

// printResolvConf prints the values of every line starting with key in
// resolv.conf, comma separated.
func printResolvConf(e *env, args []string, key string) error {
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	f, err := os.Open(e.resolvConf)
	if err != nil {
		return err
	}
	defer f.Close()
	var values []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[0] == key {
			values = append(values, fields[1:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, joinComma(values))
	return nil
}

func runEtcHosts(_ context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("takes no arguments")
	}
	b, err := os.ReadFile(e.etcHosts)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(b)
	return err
}
