using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Application code that runs inside Walden and throws: a MeterListener that throws on every "Walden" instrument
/// measured for one database (other tests' databases are left alone), and a logger factory whose loggers throw on every line.
/// </summary>
internal sealed class ThrowingMeterListener : IDisposable
{
    private readonly MeterListener _listener = new();
    private int _thrown;

    public ThrowingMeterListener(string database, Func<string, bool>? instruments = null)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Walden" && (instruments?.Invoke(instrument.Name) ?? true))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, _, t, _) => Throw(i, t));
        _listener.SetMeasurementEventCallback<int>((i, _, t, _) => Throw(i, t));
        _listener.SetMeasurementEventCallback<double>((i, _, t, _) => Throw(i, t));
        _listener.Start();

        void Throw(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "walden.database.name" && Equals(tag.Value, database))
                {
                    Interlocked.Increment(ref _thrown);
                    lock (Instruments)
                    {
                        Instruments.Add(instrument.Name);
                    }

                    throw new InvalidOperationException($"listener failure on {instrument.Name}");
                }
            }
        }
    }

    /// <summary>How many measurements it threw on.</summary>
    public int Thrown => Volatile.Read(ref _thrown);

    /// <summary>The instruments it threw on.</summary>
    public HashSet<string> Instruments { get; } = [];

    public void Dispose() => _listener.Dispose();
}

/// <summary>
/// A logger factory whose loggers throw on every line at or above a level, as a broken log provider (an alerting sink
/// that is down) does through Microsoft.Extensions.Logging.
/// </summary>
internal sealed class ThrowingLoggerFactory(LogLevel minimum) : ILoggerFactory
{
    private readonly LogLevel _minimum = minimum;
    private int _thrown;

    public int Thrown => Volatile.Read(ref _thrown);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(ThrowingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel < owner._minimum)
            {
                return;
            }

            Interlocked.Increment(ref owner._thrown);
            throw new InvalidOperationException("logger failure: " + formatter(state, exception));
        }
    }
}
