using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Walden.Tests.TestSupport;

/// <summary>Listens to the "Walden" meter and keeps the measurements tagged with one database name.</summary>
internal sealed class MetricsCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly string _database;

    public MetricsCollector(string database)
    {
        _database = database;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Walden")
            {
                Published[instrument.Name] = instrument;
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    public ConcurrentDictionary<string, Instrument> Published { get; } = new();

    public ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> Measurements { get; } = new();

    public void Collect() => _listener.RecordObservableInstruments();

    public double[] Values(string name) => Measurements.Where(m => m.Name == name).Select(m => m.Value).ToArray();

    public double[] Values(string name, string tag, string value) =>
        Measurements.Where(m => m.Name == name && Equals(m.Tags.GetValueOrDefault(tag), value)).Select(m => m.Value).ToArray();

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        if (Equals(copy.GetValueOrDefault("walden.database.name"), _database))
        {
            Measurements.Enqueue((instrument.Name, value, copy));
        }
    }
}
