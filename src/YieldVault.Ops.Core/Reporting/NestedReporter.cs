namespace YieldVault.Ops;

/// <summary>
/// The reporter of one target's run inside a roll: messages go on as they are; progress activities get ids of their own
/// (several runs report at once, each with the runners' fixed ids) and hang under the roll's activity, so the progress
/// shows the batch and, under it, each target's steps.
/// </summary>
public sealed class NestedReporter : IVaultReporter
{
    private const int Base = 100000;
    private const int Span = 10000;
    private readonly IVaultReporter _inner;
    private readonly int _offset;
    private readonly int _parent;

    /// <param name="inner">The roll's reporter.</param>
    /// <param name="slot">The target's place in the roll (0, 1, ...), which keeps its ids apart from the others'.</param>
    /// <param name="parentActivityId">The roll's own activity: the parent of the run's top activities.</param>
    public NestedReporter(IVaultReporter inner, int slot, int parentActivityId)
    {
        _inner = inner;
        _offset = Base + (slot % 1000) * Span;
        _parent = parentActivityId;
    }

    public void Verbose(string message) => _inner.Verbose(message);

    public void Warning(string message) => _inner.Warning(message);

    public void Progress(int activityId, string activity, string status, int percent, int parentActivityId = -1, bool completed = false) =>
        _inner.Progress(Map(activityId), activity, status, percent, parentActivityId == -1 ? _parent : Map(parentActivityId), completed);

    private int Map(int id) => _offset + (id % Span);
}
