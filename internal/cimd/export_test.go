package cimd

// SetJoinHook makes f call hook each time a caller of Fetch waits for a
// fetch that another caller began. It must be called before f is used.
func SetJoinHook(f *Fetcher, hook func()) { f.joinHook = hook }
