package images

import (
	"debug/elf"
	"fmt"
)

// staticArch checks that path is a statically linked Linux executable, the
// only kind that runs in an image with nothing else in it, and returns its
// architecture in OCI terms.
func staticArch(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s is not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return "", fmt.Errorf("%s is not an executable (ELF type %v)", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "", fmt.Errorf("%s is dynamically linked (it needs a program interpreter), so it cannot run inside an image; build it statically (for skiff: CGO_ENABLED=0)", path)
		}
	}
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	default:
		return "", fmt.Errorf("%s is built for %v, which skiff's images do not support", path, f.Machine)
	}
}
