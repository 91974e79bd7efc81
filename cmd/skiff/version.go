package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/apiserver"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print skiff's version and the Kubernetes version it serves",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			// stdout, as kubectl version prints (cobra's Printf is stderr)
			fmt.Fprintf(cmd.OutOrStdout(), "skiff %s (Kubernetes API %s)\n", version, apiserver.Version.GitVersion)
		},
	}
}
