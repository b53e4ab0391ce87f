using System.Globalization;
using System.Text;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;

namespace QuickStart;

/// <summary>
/// One line per agent. On a terminal the lines are redrawn in place; when the output is
/// redirected (a log, CI) they are printed as plain lines about once a second instead.
/// </summary>
internal sealed class ProgressDisplay
{
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(1);
    private readonly bool _inPlace = !Console.IsOutputRedirected;
    private readonly DateTime _started = DateTime.UtcNow;
    private int _drawnLines;
    private DateTime _lastPlainDraw = DateTime.MinValue;

    public void Draw(IReadOnlyList<string> lines, bool final = false)
    {
        if (_inPlace)
        {
            var frame = new StringBuilder();
            if (_drawnLines > 0)
            {
                frame.Append(CultureInfo.InvariantCulture, $"\e[{_drawnLines}F"); // back to the first line we drew
            }
            foreach (var line in lines)
            {
                frame.Append("\e[2K").Append(line).Append('\n'); // clear the old line, write the new one
            }
            Console.Write(frame);
            _drawnLines = lines.Count;
        }
        else if (final || DateTime.UtcNow - _lastPlainDraw >= PlainInterval)
        {
            var elapsed = (DateTime.UtcNow - _started).TotalSeconds;
            foreach (var line in lines)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{elapsed,5:0.0} s] {line}"));
            }
            _lastPlainDraw = DateTime.UtcNow;
        }
    }

    /// <summary><c>agent-2  subscriber  running    9/16 pieces [###########.........]  56%  36 MiB from peers</c></summary>
    public static string Row(RunningAgent agent, TaskInfo? task)
    {
        var who = $"{agent.Name,-8} {agent.Role,-10}";
        if (task is null)
        {
            return $"{who} waiting for the announcement";
        }
        var fraction = task.Fraction;
        var filled = (int)Math.Round(fraction * 20);
        var bar = new string('#', filled) + new string('.', 20 - filled);
        return string.Create(CultureInfo.InvariantCulture,
            $"{who} {task.State,-9} {task.CompletedPieces,3}/{task.TotalPieces} pieces [{bar}] {fraction,4:0%}  {ByteSize.Format(task.BytesFromPeers)} from peers");
    }
}
