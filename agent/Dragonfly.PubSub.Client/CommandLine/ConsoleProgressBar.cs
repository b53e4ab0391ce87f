using System.Diagnostics;
using System.Globalization;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Client.CommandLine;

/// <summary>
/// A one-line progress bar on stderr, redrawn in place at most 10 times a second. Silent when
/// stderr is not a terminal, so scripts and logs get only the result.
/// </summary>
public sealed class ConsoleProgressBar : IDisposable
{
    private readonly string _label;
    private readonly bool _enabled;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastDraw = TimeSpan.MinValue;
    private bool _drawn;

    public ConsoleProgressBar(string label, bool enabled = true)
    {
        _label = label;
        _enabled = enabled && !Console.IsErrorRedirected;
    }

    public void Report(long done, long total, string? detail = null, bool force = false)
    {
        if (!_enabled || (!force && _clock.Elapsed - _lastDraw < TimeSpan.FromMilliseconds(100)))
        {
            return;
        }
        _lastDraw = _clock.Elapsed;
        var fraction = total <= 0 ? 0 : Math.Clamp((double)done / total, 0, 1);
        const int width = 30;
        var filled = (int)(fraction * width);
        var rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 0.001);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{_label} [{new string('#', filled)}{new string('-', width - filled)}] {fraction * 100,5:0.0}%  {ByteSize.Format(done)}/{ByteSize.Format(total)}  {ByteSize.Format((long)rate)}/s {detail}");
        var columns = SafeWindowWidth();
        if (line.Length > columns - 1)
        {
            line = line[..(columns - 1)];
        }
        Console.Error.Write("\r" + line.PadRight(columns - 1));
        _drawn = true;
    }

    public void Dispose()
    {
        if (_drawn)
        {
            Console.Error.WriteLine();
        }
    }

    private static int SafeWindowWidth()
    {
        try
        {
            return Console.WindowWidth > 20 ? Console.WindowWidth : 100;
        }
        catch (IOException)
        {
            return 100;
        }
    }
}
