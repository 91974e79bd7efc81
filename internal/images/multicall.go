package images

import (
	"path/filepath"

	"github.com/skiff-sh/skiff/internal/images/pause"
	"github.com/skiff-sh/skiff/internal/images/testserver"
)

// Multicall returns the program the skiff binary should run when started
// under the name argv0 (os.Args[0]), as it is inside the built-in images:
// "pause" runs pause.Main, "agnhost" and "testserver" run testserver.Main.
// ok is false for any other name (skiff's own CLI). The returned main takes
// the arguments after the program name (os.Args[1:]) and returns the exit
// code.
func Multicall(argv0 string) (main func(args []string) int, ok bool) {
	switch filepath.Base(argv0) {
	case "pause":
		return pause.Main, true
	case "agnhost", "testserver":
		return testserver.Main, true
	}
	return nil, false
}
