// Package testserver is skiff's test server: one program with subcommands in
// the spirit of Kubernetes' agnhost (netexec, serve-hostname, liveness,
// connect, ...), so test pods can serve HTTP/UDP, fail health checks on
// demand, exit with chosen codes and check connectivity without any image
// from the internet. It owns the programs' behaviour only; the images
// package puts the binary into the agnhost/testserver image and skiff's main
// runs Main when invoked as "agnhost" or "testserver".
package testserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what a subcommand may touch of the outside world; tests replace
// parts of it.
type env struct {
	stdout, stderr io.Writer
	hostname       string
	resolvConf     string
	etcHosts       string
	// listening, if set, is told each socket a server binds (name is
	// "http", "udp", "tcp"), so tests can use kernel-chosen ports.
	listening func(name string, addr net.Addr)
}

func (e *env) bound(name string, addr net.Addr) {
	if e.listening != nil {
		e.listening(name, addr)
	}
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand; names follow agnhost where agnhost has
// the same subcommand.
var commands = map[string]command{
	"netexec":           {"HTTP (and UDP) server: /echo /hostname /healthz /exit /dial ...", runNetexec},
	"serve-hostname":    {"serve the hostname over HTTP, TCP or UDP", runServeHostname},
	"liveness":          {"HTTP /healthz that succeeds for a while, then fails", runLiveness},
	"test-webserver":    {"HTTP file server", runTestWebserver},
	"echo-tcp":          {"TCP echo server", runEchoTCP},
	"echo-udp":          {"UDP echo server", runEchoUDP},
	"connect":           {"exit 0 if a TCP connection to host:port succeeds", runConnect},
	"dnslookup":         {"resolve a name and print its addresses", runDNSLookup},
	"dns-lookup":        {"same as dnslookup", runDNSLookup},
	"dns-server-list":   {"print the nameservers of /etc/resolv.conf, comma separated", runDNSServerList},
	"dns-suffix":        {"print the search list of /etc/resolv.conf, comma separated", runDNSSuffix},
	"etc-hosts":         {"print /etc/hosts", runEtcHosts},
	"pause":             {"do nothing until SIGTERM or SIGINT", runPause},
	"sleep":             {"sleep for the given seconds (or Go duration)", runSleep},
	"exit":              {"exit with the given code", runExit},
	"entrypoint-tester": {"print the arguments and exit", runEntrypointTester},
}

// Main runs the subcommand named by args[0] (args is the command line after
// the program name) and returns the process exit code. SIGTERM and SIGINT
// stop servers gracefully with code 0.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hostname, err := os.Hostname()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver: hostname:", err)
	}
	e := &env{stdout: os.Stdout, stderr: os.Stderr, hostname: hostname,
		resolvConf: "/etc/resolv.conf", etcHosts: "/etc/hosts"}
	return run(ctx, e, args)
}

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		printUsage(e.stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "testserver: unknown command %q\n", args[0])
		printUsage(e.stderr)
		return 2
	}
	err := cmd.run(ctx, e, args[1:])
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(e.stderr, "%s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(e.stderr, "%s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: agnhost <command> [flags]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
}

// exitCode is returned by a subcommand that wants a specific exit code
// without an error message.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit code %d", int(c)) }

// usageError marks bad command lines (exit code 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// parseFlags parses flags that may come before, between or after the
// positional arguments (Go's flag package stops at the first positional
// one), and returns the positional arguments.
func parseFlags(fs *flag.FlagSet, e *env, args []string) ([]string, error) {
	fs.SetOutput(e.stderr)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

func checkPort(name string, port int, allowOff bool) error {
	if allowOff && port == -1 {
		return nil
	}
	if port < 0 || port > 65535 {
		return usagef("--%s %d is not a port number", name, port)
	}
	return nil
}

func hostPort(port int) string { return net.JoinHostPort("", fmt.Sprint(port)) }

func joinComma(items []string) string { return strings.Join(items, ",") }
