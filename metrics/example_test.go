package metrics_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/metrics"
)

// Write a table's metrics for node_exporter's textfile collector, as
// 'shmkv stats NAME --prometheus' does.
func Example() {
	kv.Remove("metrics-example")
	t, err := kv.Open("metrics-example", &kv.Options{Keys: 100, Memory: 64 << 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove("metrics-example")
	defer t.Close()
	t.Set([]byte("k"), []byte("v"))
	t.Get(nil, []byte("k"))

	var st kv.Stats
	t.Stats(&st)
	var b strings.Builder
	metrics.WriteText(&b, metrics.Samples(nil, t.Name(), &st))
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "shmkv_reads_total") || strings.HasPrefix(line, "shmkv_entries") {
			fmt.Fprintln(os.Stdout, line)
		}
	}
	// Output:
	// shmkv_reads_total{result="hit",table="metrics-example"} 1
	// shmkv_reads_total{result="miss",table="metrics-example"} 0
	// shmkv_entries{table="metrics-example"} 1
}
