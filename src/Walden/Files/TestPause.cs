namespace Walden.Files;

/// <summary>
/// A fault seam for tests that kill a real child process in the middle of an operation: when the environment
/// variable <c>WALDEN_TEST_PAUSE_AT</c> names the point reached, the process writes
/// <c>walden-paused:&lt;point&gt;</c> to standard error and waits until it is killed. Unset in normal use.
/// </summary>
internal static class TestPause
{
    internal const string Variable = "WALDEN_TEST_PAUSE_AT";

    internal static void At(string point)
    {
        if (Environment.GetEnvironmentVariable(Variable) != point)
        {
            return;
        }

        Console.Error.WriteLine($"walden-paused:{point}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>
    /// As <see cref="At"/>, but goes on: when <c>WALDEN_TEST_HOLD_AT</c> names the point, writes <c>walden-holding:&lt;point&gt;</c>
    /// to standard error and waits for a line (or the end) on standard input, so that a test can change the world meanwhile.
    /// </summary>
    internal static void Hold(string point)
    {
        if (Environment.GetEnvironmentVariable(HoldVariable) != point)
        {
            return;
        }

        Console.Error.WriteLine($"walden-holding:{point}");
        Console.Error.Flush();
        Console.In.ReadLine();
    }

    internal const string HoldVariable = "WALDEN_TEST_HOLD_AT";
}
