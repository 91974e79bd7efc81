// Command multicall is a stand-in for the skiff binary in tests: built
// statically, it runs the programs of the built-in images under their
// names, as skiff's main does.
package main

import (
	"fmt"
	"os"

	"github.com/skiff-sh/skiff/internal/images"
)

func main() {
	if run, ok := images.Multicall(os.Args[0]); ok {
		os.Exit(run(os.Args[1:]))
	}
	fmt.Fprintf(os.Stderr, "multicall: unknown program name %q\n", os.Args[0])
	os.Exit(100)
}
