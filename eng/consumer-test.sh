#!/usr/bin/env bash
# Consumer test: the packages work on a machine that never saw the source. Packs every package to a local
# folder, then, in a new folder outside the repository with gcc and npm off PATH and an empty NuGet cache,
# a new console project adds Walden from that folder, writes from many tasks, reads back and checks that
# sqlite_version() is Walden's own build, then takes a backup, lists it and restores it over the database (which
# quarantines the one there), all with reflection-based JSON turned off as in a native AOT, trimmed or file-based app;
# then the walden tool is installed from the same folder and runs `walden info` and `walden check` on the file.
# Called by .ci/run; also safe to run by hand.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/walden-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
say() { echo "consumer test: $*"; }

say "dotnet pack -> $feed"
dotnet pack "$root/Walden.slnx" -c Release -o "$feed" --nologo -v quiet
ls "$feed"

# From here on every dotnet command runs with a PATH that holds dotnet alone (no gcc, no npm) and, outside the
# repository, with a NuGet cache of its own, so no Walden package cached by an earlier run can stand in; the other
# dependencies come from the NuGet sources this machine is configured with.
# The PATH: every command of this machine's PATH except the compilers and npm (the SDK itself runs a few of them).
mkdir -p "$work/path"
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  for tool in "$dir"/*; do
    name="${tool##*/}"
    case "$name" in
      gcc*|*-gcc*|cc|c++|g++*|*-g++*|cpp*|clang*|npm|npx|node|nodejs|corepack) continue ;;
    esac
    [ -x "$tool" ] && [ ! -e "$work/path/$name" ] && ln -s "$tool" "$work/path/$name"
  done
done
export NUGET_PACKAGES="$work/nuget-packages"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
bare() { PATH="$work/path" "$@"; }
if PATH="$work/path" "$BASH" -c 'command -v gcc || command -v npm' >/dev/null 2>&1; then
  echo "consumer test: gcc or npm is still reachable" >&2; exit 1
fi

app="$work/app"
bare dotnet new console -o "$app" --framework net10.0 >/dev/null
cd "$app"
# The folder of packages as one more source beside the configured ones (dotnet add package --source would make it
# the only one, and Walden's dependencies are not in it).
# The README's lines; --configfile keeps the source in this project instead of the user's NuGet.Config.
echo '<configuration><packageSources /></configuration>' > nuget.config
bare dotnet nuget add source "$feed" --name walden-local --configfile nuget.config
bare dotnet add package Walden
# Reflection-based JSON off, as in native AOT, trimmed and file-based (`dotnet run app.cs`) apps: JSON the library
# writes or reads by reflection throws here (taking or listing a backup and quarantining a file once did).
sed -i 's|<OutputType>Exe</OutputType>|&\n    <JsonSerializerIsReflectionEnabledByDefault>false</JsonSerializerIsReflectionEnabledByDefault>|' app.csproj
grep -q '<JsonSerializerIsReflectionEnabledByDefault>false<' app.csproj || { echo "consumer test: could not turn reflection JSON off in app.csproj" >&2; exit 1; }
cat > Program.cs <<'CS'
using Walden;
using Walden.Backup;

Directory.CreateDirectory("data");
var db = await WaldenDatabase.OpenAsync("data/app.db");
await db.WriteAsync(c => { using var cmd = c.CreateCommand(); cmd.CommandText = "CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, task INT, body TEXT)"; cmd.ExecuteNonQuery(); });
var writers = Enumerable.Range(0, 32).Select(task => Task.Run(async () =>
{
    for (var i = 0; i < 50; i++)
    {
        await db.WriteAsync(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO notes(task, body) VALUES ($t, $b)";
            cmd.Parameters.AddWithValue("$t", task);
            cmd.Parameters.AddWithValue("$b", $"note {i} from task {task}");
            cmd.ExecuteNonQuery();
        });
    }
}));
await Task.WhenAll(writers);
var (rows, version) = await db.ReadAsync(c =>
{
    using var cmd = c.CreateCommand();
    cmd.CommandText = "SELECT (SELECT count(*) FROM notes), sqlite_version()";
    using var reader = cmd.ExecuteReader();
    reader.Read();
    return (reader.GetInt64(0), reader.GetString(1));
});
Console.WriteLine($"rows={rows} sqlite_version={version} library={WaldenDatabase.SqliteVersion}");
if (rows != 32 * 50) { Console.Error.WriteLine($"expected {32 * 50} rows, read {rows}"); return 1; }
if (version != "3.54.1") { Console.Error.WriteLine($"sqlite_version() is {version}, not Walden's 3.54.1"); return 1; }

// Backups and quarantine write and read JSON manifests: with reflection JSON off, only source-generated JSON works.
var backup = await db.BackupAsync("backups");
await db.DisposeAsync();
var listed = WaldenBackups.List("backups");
Console.WriteLine($"backup={backup.File} listed={string.Join(", ", listed.Select(e => $"{Path.GetFileName(e.Path)} {e.State} {e.Problem}"))}");
if (listed is not [{ State: WaldenBackupState.Verified, Backup.TableRows: var tables }] || tables["notes"] != 32 * 50)
{
    Console.Error.WriteLine("expected one verified backup holding every note");
    return 1;
}
var restore = await WaldenBackups.RestoreAsync(listed[0].Path, "data/app.db");
Console.WriteLine($"restored over data/app.db, the database there quarantined in {restore.Quarantine}");
if (restore.Quarantine is not { } quarantine || !File.Exists(Path.Combine(quarantine.Folder, "quarantine.json")))
{
    Console.Error.WriteLine("expected the replaced database in quarantine with its quarantine.json");
    return 1;
}
return 0;
CS
say "dotnet run (a new console project on the Walden package, reflection-based JSON off)"
bare dotnet run
grep -q '"System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault": false' bin/Debug/net10.0/app.runtimeconfig.json \
  || { echo "consumer test: the app ran with reflection-based JSON on (app.runtimeconfig.json)" >&2; exit 1; }
test -f data/app.db

say "the README's Quick start, as pasted, in a project of its own"
quick="$work/quickstart"
bare dotnet new console -o "$quick" --framework net10.0 >/dev/null
cp nuget.config "$quick/"
awk '/^## Quick start/ {q=1} q && /^```csharp/ {c=1; next} c && /^```/ {exit} c {print}' "$root/README.md" > "$quick/Program.cs"
grep -q WaldenDatabase.OpenAsync "$quick/Program.cs" || { echo "consumer test: no Quick start code found in README.md" >&2; exit 1; }
(cd "$quick" && bare dotnet add package Walden >/dev/null && bare dotnet add package Dapper >/dev/null && bare dotnet run && test -f data/agents.db)

say "Walden.Archiving.S3 in a project of its own (the engine package does not bring the AWS SDK)"
s3app="$work/s3app"
bare dotnet new console -o "$s3app" --framework net10.0 >/dev/null
cp nuget.config "$s3app/"
cat > "$s3app/Program.cs" <<'CS'
using Walden;

var options = new WaldenOptions();
options.Archive.AddS3("s3://backups/agents", s3 => s3.ServiceUrl = new Uri("http://127.0.0.1:9000"));
var name = options.Archive.Destinations[0].Name;
Console.WriteLine($"destination={name}");
return name == "s3://backups/agents/ at http://127.0.0.1:9000/" ? 0 : 1;
CS
(cd "$s3app" && bare dotnet add package Walden.Archiving.S3 >/dev/null && bare dotnet run)

say "dotnet tool install Walden.Cli"
bare dotnet tool install Walden.Cli --tool-path "$work/tools" --add-source "$feed"
bare "$work/tools/walden" info data/app.db
bare "$work/tools/walden" check data/app.db
say "passed"
