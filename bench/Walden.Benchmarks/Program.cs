using BenchmarkDotNet.Running;

// Micro-costs of one write; the whole-workload comparison is `walden bench`. Example:
//   dotnet run -c Release --project bench/Walden.Benchmarks -- --filter '*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Walden.Benchmarks.WriteBenchmarks).Assembly).Run(args);
