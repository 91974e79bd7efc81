package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/clusterbench"
	"github.com/skiff-sh/skiff/internal/images"
)

// defaultServerKubeconfig is where `skiff server` writes the admin
// kubeconfig with its default --data-dir.
const defaultServerKubeconfig = "/var/lib/skiff/admin.kubeconfig"

func newBenchCommand() *cobra.Command {
	var kubeconfig, output string
	o := clusterbench.Options{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a running cluster's API and pod startup latency against Kubernetes' SLOs",
		Long: `Measure the cluster the kubeconfig reaches, as Kubernetes' scalability SLOs
measure it (` + clusterbench.SLOSource + `):

  - API call latency per verb: create, get, list, update, patch and delete of
    ConfigMaps, one caller at a time and --concurrency at a time, and the
    first page of the pods of all namespaces;
  - pod startup latency: --pods pods of --image created at --pod-rate per
    second, from the create call to every container running, seen on a watch
    (the image is pulled on the nodes first, as the SLO excludes pulling).

It works in a namespace of its own (skiff-bench-*) and deletes it when done,
also when interrupted. It prints tables, or JSON with -o json; it fails on
errors (a failed call, a pod that does not run), never on a number.

Works against any Kubernetes cluster, not only skiff's. The kubeconfig is
--kubeconfig, else $KUBECONFIG, else ` + defaultServerKubeconfig + ` when it
exists, else ~/.kube/config.`,
		Example: `  skiff bench
  skiff bench --pods 0 --ops 1000 --concurrency 32
  skiff bench --kubeconfig ~/.kube/config -o json > bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("-o must be table or json, not %q", output)
			}
			if err := o.Validate(); err != nil {
				return err
			}
			rules := clientcmd.NewDefaultClientConfigLoadingRules()
			if kubeconfig != "" {
				rules.ExplicitPath = kubeconfig
			} else if os.Getenv("KUBECONFIG") == "" {
				if _, err := os.Stat(defaultServerKubeconfig); err == nil {
					rules.ExplicitPath = defaultServerKubeconfig
				}
			}
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
			if err != nil {
				return fmt.Errorf("kubeconfig: %w", err)
			}
			// The calls measure the server, not client-go's rate limiter.
			cfg.QPS = -1
			cfg.ContentType = "application/vnd.kubernetes.protobuf"
			cfg.UserAgent = "skiff-bench/" + version
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			o.Log = cmd.ErrOrStderr()
			res, runErr := clusterbench.Run(cmd.Context(), cs, cfg.Host, o)
			if res != nil {
				if output == "json" {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if err := enc.Encode(res); err != nil {
						return err
					}
				} else {
					res.Print(cmd.OutOrStdout())
				}
			}
			return runErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to measure")
	f.IntVar(&o.Ops, "ops", 200, "calls per verb, at each concurrency")
	f.IntVar(&o.Concurrency, "concurrency", 16, "callers of the second round of API calls")
	f.IntVar(&o.Pods, "pods", 30, "pods to start for the startup latency; 0 measures the API only")
	f.Float64Var(&o.PodRate, "pod-rate", 5, "pods created per second")
	f.StringVar(&o.Image, "image", images.PauseImage, "image of the pods")
	f.DurationVar(&o.Timeout, "timeout", 3*time.Minute, "longest wait for the pods to run and for the namespace to go")
	f.StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}
