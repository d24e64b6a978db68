using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>
/// A logger that never throws. Log providers are the application's code (Microsoft.Extensions.Logging
/// rethrows a provider's exception to the caller), and the writer logs from places where an exception
/// would turn a reported outcome into a different one, or stop the writer. A line that cannot be logged is dropped.
/// </summary>
internal sealed class InfallibleLogger(ILogger inner) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        try
        {
            return inner.BeginScope(state);
        }
        catch (Exception)
        {
            return null;
        }
    }

    public bool IsEnabled(LogLevel logLevel)
    {
        try
        {
            return inner.IsEnabled(logLevel);
        }
        catch (Exception)
        {
            return false;
        }
    }

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        try
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
        catch (Exception)
        {
            // Nowhere left to report it: the log itself is what failed.
        }
    }
}
