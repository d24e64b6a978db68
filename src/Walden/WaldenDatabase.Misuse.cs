using System.Runtime.CompilerServices;

namespace Walden;

/// <summary>
/// Async delegates refused at once. A delegate passed to WriteAsync or ReadAsync runs on a Walden connection inside
/// Walden's transaction, and an async one returns at its first await: the rest would run later, outside that transaction,
/// on a connection Walden has moved on with. An async lambda binds to <c>Func&lt;SqliteConnection, T&gt;</c> with T a task,
/// so the call throws before anything runs. (An overload marked [Obsolete(error: true)] would make it a compile error,
/// but C# would then also pick it for <c>c =&gt; throw ...</c>, which is valid; an async void delegate is caught by the writer.)
/// </summary>
public sealed partial class WaldenDatabase
{
    private const string AsyncWriteRefused =
        "A write delegate must be synchronous: it runs on Walden's writer thread inside Walden's transaction, and an async " +
        "delegate would run its SQL after WriteAsync moved on, outside that transaction. Await what you need before " +
        "WriteAsync, then pass a delegate that only uses the connection, e.g. WriteAsync(c => c.Execute(...)).";

    private const string AsyncReadRefused =
        "A read delegate must be synchronous: an async delegate would run its SQL after ReadAsync returned the connection to the pool. " +
        "Await what you need before ReadAsync, then pass a delegate that only uses the connection, e.g. ReadAsync(c => c.Query(...)).";

    /// <summary>Refuses a delegate that returns a task or another awaitable (an async lambda).</summary>
    private static void RefuseAsyncDelegate<T>(string parameter)
    {
        if (Awaitable<T>.Is)
        {
            throw new ArgumentException(parameter == "read" ? AsyncReadRefused : AsyncWriteRefused, parameter);
        }
    }

    /// <summary>
    /// Whether T is awaitable: every type an async lambda can return (Task, Task&lt;T&gt;, and the task-like types, which
    /// carry [AsyncMethodBuilder]: ValueTask, ValueTask&lt;T&gt;, an application's own), and the awaitables of .NET a
    /// synchronous lambda can return (<c>c =&gt; task.ConfigureAwait(false)</c>, <c>c =&gt; Task.Yield()</c>). Decided from
    /// the type and its attributes, which trimming keeps, not by looking up a GetAwaiter method, which trimming may remove
    /// (and which would need T annotated on the public WriteAsync and ReadAsync); so an application's own awaitable that is
    /// not task-like is not recognised.
    /// </summary>
    private static class Awaitable<T>
    {
        internal static readonly bool Is = Of(typeof(T));

        private static bool Of(Type type)
        {
            if (typeof(Task).IsAssignableFrom(type) || type == typeof(ValueTask) || type == typeof(YieldAwaitable) ||
                type == typeof(ConfiguredTaskAwaitable) || type == typeof(ConfiguredValueTaskAwaitable) ||
                type.IsDefined(typeof(AsyncMethodBuilderAttribute), inherit: false))
            {
                return true;
            }

            if (!type.IsGenericType)
            {
                return false;
            }

            var definition = type.GetGenericTypeDefinition();
            return definition == typeof(ValueTask<>) || definition == typeof(ConfiguredTaskAwaitable<>) ||
                definition == typeof(ConfiguredValueTaskAwaitable<>);
        }
    }
}
